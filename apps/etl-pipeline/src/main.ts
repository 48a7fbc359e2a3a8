/**
 * Runs an ETL job with a worker in this process, following it across the runs continue-as-new
 * makes. Backends come from DURABLY_STORAGE / DURABLY_BROKER (or a durably.config.*); with none set,
 * the embedded default.
 *
 *   npm start                                    # 1,000 rows, pages of 100, 4 pages per run
 *   npm start -- --flaky-load                    # the warehouse drops once mid-load: retried from the checkpoint
 *   npm start -- --rows 20000 --dashboard --extract-delay 200ms   # watch it in the dashboard
 */
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { connect, createWorker, deserialize, DurablyError, parseDuration, type Client, type DurablyEvent, type Worker } from '@durably/core';
import { closeWarehouses, dropConnectionOnce } from './warehouse.js';
import { etlPipeline, type EtlJob, type EtlResult } from './workflows.js';

const USAGE = `Usage: npm start -- [--rows <n>] [--page-size <n>] [--pages-per-run <n>] [--chunk-size <n>] [--concurrency <n>] [--flaky-load] [--dashboard]

Extracts rows from a paginated source, transforms them in parallel steps (at most --concurrency at
once), and loads them into a SQLite warehouse with retries and checkpoints, continuing as new every
--pages-per-run pages.

  --rows <n>             rows in the source (default 1000)
  --page-size <n>        rows per extracted page (default 100)
  --pages-per-run <n>    pages per run before it continues as new (default 4)
  --chunk-size <n>       rows per transform step (default 25)
  --concurrency <n>      transform steps in flight at once (default 4)
  --flaky-load           the warehouse connection drops once, 60 rows into a load
  --warehouse <file>     the warehouse (default ./.etl/warehouse.db)
  --job <id>             the job id (default: a new one)
  --extract-delay <d>    a pause in each extract call, to watch it (default none)
  --dashboard            also serve the dashboard while the job runs (port 4280, or --dashboard-port)`;

interface Options {
  rows: number;
  pageSize: number;
  pagesPerRun: number;
  chunkSize: number;
  concurrency: number;
}
let options: Options;
let values: Record<string, string | boolean | undefined>;
try {
  ({ values } = parseArgs({
    options: {
      rows: { type: 'string' },
      'page-size': { type: 'string' },
      'pages-per-run': { type: 'string' },
      'chunk-size': { type: 'string' },
      concurrency: { type: 'string' },
      'flaky-load': { type: 'boolean' },
      warehouse: { type: 'string' },
      job: { type: 'string' },
      'extract-delay': { type: 'string' },
      dashboard: { type: 'boolean' },
      'dashboard-port': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  }));
  const whole = (name: string, fallback: number, max: number) => {
    const raw = values[name];
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1 || n > max) throw new Error(`--${name} ${JSON.stringify(raw)}: give a whole number from 1 to ${max}.`);
    return n;
  };
  options = { rows: whole('rows', 1000, 10_000_000), pageSize: whole('page-size', 100, 5000), pagesPerRun: whole('pages-per-run', 4, 1000), chunkSize: whole('chunk-size', 25, 5000), concurrency: whole('concurrency', 4, 100) };
  if (typeof values['extract-delay'] === 'string') parseDuration(values['extract-delay'], '--extract-delay');
  if (typeof values.job === 'string' && !/^[A-Za-z0-9_-]{1,64}$/.test(values.job)) throw new Error(`--job ${JSON.stringify(values.job)}: use 1-64 letters, digits, "_" and "-".`);
} catch (err) {
  console.error(`${(err as Error).message}\n\n${USAGE}`);
  process.exit(2);
}
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
if (values['flaky-load']) dropConnectionOnce(60);

const job: EtlJob = {
  jobId: typeof values.job === 'string' ? values.job : `etl-${randomBytes(3).toString('hex')}`,
  sourceRows: options.rows,
  pageSize: options.pageSize,
  chunkSize: options.chunkSize,
  concurrency: options.concurrency,
  pagesPerRun: options.pagesPerRun,
  warehouse: resolve(typeof values.warehouse === 'string' ? values.warehouse : './.etl/warehouse.db'),
  ...(typeof values['extract-delay'] === 'string' ? { extractDelayMs: parseDuration(values['extract-delay'], '--extract-delay') } : {}),
};

let client: Client | undefined;
let worker: Worker | undefined;
let dashboard: { url: string; close(): Promise<void> } | undefined;
try {
  client = await connect();
  const run = await client.startWith(etlPipeline, [job], { idempotencyKey: job.jobId, tags: [`job:${job.jobId}`] });
  console.log(`job ${job.jobId}: ${options.rows} rows in pages of ${options.pageSize}, ${options.pagesPerRun} pages per run, transform steps of ${options.chunkSize} rows, at most ${options.concurrency} at once`);
  console.log(`warehouse: ${job.warehouse}`);
  if (values.dashboard) {
    const { startDashboard } = await import('@durably/dashboard');
    dashboard = await startDashboard({ client, port: typeof values['dashboard-port'] === 'string' ? Number(values['dashboard-port']) : undefined });
    console.log(`dashboard: ${dashboard.url}/runs/${run.runId} (the chain of runs, each with its progress as input; or filter by the tag job:${job.jobId})`);
  }
  worker = createWorker({ workflows: [etlPipeline], client });
  await worker.start();
  const printer = followChain(client, run.runId);
  const result = await run.result();
  await printer.stop();
  console.log(
    `result: job ${result.jobId} loaded ${result.loaded} rows from ${result.pages} pages in ${result.run} runs; ` +
      `the warehouse holds ${result.warehouseRows} rows of the job ($${(result.warehouseUsdCents / 100).toFixed(2)})`,
  );
} catch (err) {
  console.error(err instanceof DurablyError ? `${err.name}: ${err.message}` : err);
  process.exitCode = 1;
} finally {
  await dashboard?.close();
  await worker?.stop();
  await client?.close();
  closeWarehouses();
}

/** Prints the progress of every run of the chain, as their events are recorded. */
function followChain(client: Client, firstRunId: string): { stop(): Promise<void> } {
  const seen = new Map<string, { seq: number; index: number; page: number; transforms: number }>();
  let stopped = false;
  const flush = async () => {
    const chain = await client.getRunChain(firstRunId);
    for (const [index, record] of chain.entries()) {
      let at = seen.get(record.runId);
      if (!at) seen.set(record.runId, (at = { seq: 1, index: index + 1, page: 0, transforms: 0 }));
      for (const event of await client.getRun(record.runId).events(at.seq)) {
        at.seq = event.seq + 1;
        const line = describe(event, at);
        if (line) console.log(line);
      }
    }
  };
  const loop = (async () => {
    while (!stopped) {
      await flush();
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
      await flush();
    },
  };
}

function describe(e: DurablyEvent, at: { index: number; page: number; transforms: number }): string | undefined {
  switch (e.type) {
    case 'run_created': {
      // A continued run starts with the progress so far as its input.
      const [, progress] = deserialize<[EtlJob, { pages: number; loaded: number } | undefined]>(e.data.args);
      at.page = progress?.pages ?? 0;
      return `run ${at.index} (${e.runId})${progress ? `: continued as new with a fresh history, ${progress.loaded} rows loaded so far` : ''}`;
    }
    case 'step_completed': {
      const result = deserialize<unknown>(e.data.result);
      if (e.data.name === 'etl.extract-page') {
        at.page++;
        at.transforms = 0;
        const { rows } = result as { rows: Array<{ id: number }> };
        return `  page ${at.page}: extracted rows ${rows[0]?.id}-${rows.at(-1)?.id}`;
      }
      if (e.data.name === 'etl.transform-chunk') {
        at.transforms++;
        return undefined;
      }
      if (e.data.name === 'etl.load-rows') {
        const { loaded, resumedAt, attempt } = result as { loaded: number; resumedAt: number; attempt: number };
        const resumed = resumedAt > 0 ? `, attempt ${attempt} resumed at row ${resumedAt + 1} from the checkpoint` : '';
        return `  page ${at.page}: transformed in ${at.transforms} steps, loaded ${loaded} rows${resumed}`;
      }
      return undefined;
    }
    case 'step_failed':
      return `  page ${at.page}: ${e.data.name.replace('etl.', '')} attempt ${e.data.attempt} failed: ${e.data.error.message}${e.data.retryAt ? '; retrying' : ''}`;
    case 'run_continued':
      return `  run ${at.index} continues as new`;
    default:
      return undefined;
  }
}
