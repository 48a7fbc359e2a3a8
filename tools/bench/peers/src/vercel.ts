/**
 * Vercel Workflow (the `workflow` package) in its local world: its standalone build (offline; the
 * SWC plugin ships in the npm package) served by a small HTTP server, as its queue expects, in this
 * process. Optionally its Postgres world on the same Postgres as Durably.
 */
import { execFile } from 'node:child_process';
import http from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { PG_URL, percentile, type Row } from '../../src/shapes.js';

/** tools/bench/peers: the folder with its own node_modules, where `workflow build` runs. */
const peersDir = join(import.meta.dirname, '..');
const IDS = {
  threeSteps: 'workflow//./workflows/bench//threeSteps',
  longChain: 'workflow//./workflows/bench//longChain',
};

type Handler = (request: Request) => Promise<Response>;

let built: Promise<void> | undefined;

/** Builds the bundles (`workflow build`), once per bench process: every round's child serves the same build. */
function build(): Promise<void> {
  built ??= (async () => {
    await promisify(execFile)(process.execPath, [join(peersDir, 'node_modules/workflow/bin/run.js'), 'build'], { cwd: peersDir, timeout: 120_000 }).catch(async () => {
      // Older layouts: the CLI binary lives in @workflow/cli.
      await promisify(execFile)(process.execPath, [join(peersDir, 'node_modules/@workflow/cli/bin/run.js'), 'build'], { cwd: peersDir, timeout: 120_000 });
    });
    // The bundles are CommonJS; this package is ESM.
    writeFileSync(join(peersDir, '.well-known/workflow/v1/package.json'), '{ "type": "commonjs" }\n');
  })();
  return built;
}

/** Serves the built bundles and runs `fn` with `start` from workflow/api. */
async function withVercel<T>(fn: (start: (id: string, args: unknown[]) => Promise<{ returnValue: Promise<unknown> }>) => Promise<T>): Promise<T> {
  const dataDir = mkdtempSync(join(tmpdir(), 'durably-bench-vercel-'));
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  process.env.PORT = String(port);
  process.env.WORKFLOW_LOCAL_DATA_DIR = dataDir;
  process.env.WORKFLOW_LOCAL_BASE_URL = `http://127.0.0.1:${port}`;
  const flow = (await import(join(peersDir, '.well-known/workflow/v1/flow.js'))) as { POST: Handler };
  const step = (await import(join(peersDir, '.well-known/workflow/v1/step.js'))) as { POST: Handler };
  server.on('request', async (req, res) => {
    try {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const handler = req.url?.includes('/v1/flow') ? flow.POST : req.url?.includes('/v1/step') ? step.POST : undefined;
      if (!handler) return void res.writeHead(404).end();
      const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
      const response = await handler(new Request(`http://127.0.0.1:${port}${req.url}`, { method: req.method, headers: req.headers as Record<string, string>, body: hasBody ? Buffer.concat(chunks) : undefined }));
      res.writeHead(response.status, Object.fromEntries(response.headers));
      res.end(Buffer.from(await response.arrayBuffer()));
    } catch (err) {
      res.writeHead(500).end(String(err));
    }
  });
  const api = (await import('workflow/api')) as unknown as { start(wf: { workflowId: string }, args: unknown[]): Promise<{ returnValue: Promise<unknown> }> };
  try {
    return await fn((id, args) => api.start({ workflowId: id }, args));
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/**
 * B1 (bounded: at most `count` workflows or `maxMs` of measuring, whichever comes first) and B2, in
 * this process, on the world the environment selects (WORKFLOW_TARGET_WORLD; the local one by default).
 */
export async function runVercelShapes(world: string, shapes: Set<string>, count: number, concurrency: number, steps: number, maxMs: number): Promise<Row[]> {
  return withVercel(async (start) => {
    const rows: Row[] = [];
    if (shapes.has('B1')) {
      const payload = 'x'.repeat(100);
      const latencies: number[] = [];
      const runOne = async () => {
        const t0 = performance.now();
        await (await start(IDS.threeSteps, [payload])).returnValue;
        latencies.push(performance.now() - t0);
      };
      await Promise.all(Array.from({ length: Math.min(10, count) }, runOne));
      latencies.length = 0;
      let next = 0;
      const t0 = performance.now();
      const stopAt = t0 + maxMs;
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (next++ < count && performance.now() < stopAt) await runOne();
        }),
      );
      const seconds = (performance.now() - t0) / 1000;
      latencies.sort((a, b) => a - b);
      const row = (metric: string, value: number, unit: string): Row => ({ shape: 'B1', system: 'vercel-workflow', backend: world, mode: 'inline', metric, value, unit });
      rows.push(
        row('workflows_per_s', latencies.length / seconds, 'workflows/s'),
        row('steps_per_s', (latencies.length * 3) / seconds, 'steps/s'),
        row('latency_p50_ms', percentile(latencies, 50), 'ms'),
        row('latency_p99_ms', percentile(latencies, 99), 'ms'),
        row('workflows_measured', latencies.length, 'workflows'),
      );
    }
    if (shapes.has('B2')) {
      const t0 = performance.now();
      const stamps = (await (await start(IDS.longChain, [steps])).returnValue) as number[];
      const total = performance.now() - t0;
      const gaps = stamps.slice(1).map((t, i) => t - stamps[i]);
      const tenth = Math.max(1, Math.floor(gaps.length / 10));
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
      const early = mean(gaps.slice(0, tenth));
      const late = mean(gaps.slice(-tenth));
      const row = (metric: string, value: number, unit: string): Row => ({ shape: 'B2', system: 'vercel-workflow', backend: world, mode: `${steps} steps`, metric, value, unit });
      rows.push(row('total_ms', total, 'ms'), row('ms_per_step', total / steps, 'ms'), row('gap_early_ms', early, 'ms'), row('gap_late_ms', late, 'ms'), row('gap_ratio_late_early', late / early, 'x'));
    }
    return rows;
  });
}

/**
 * Vercel Workflow on its local world and on its Postgres world (a database of its own on the same
 * server, set up by its bootstrap CLI), each in a child process: a world is chosen once per process.
 */
export async function vercelWorkflow(shapes: Set<string>, count: number, concurrency: number, steps: number, maxMs: number, worlds: string[]): Promise<Row[]> {
  await build();
  const rows: Row[] = [];
  for (const world of worlds) {
    const env: Record<string, string> = { ...(process.env as Record<string, string>) };
    let database: string | undefined;
    if (world === 'postgres world') {
      database = `durably_bench_vw_${randomBytes(4).toString('hex')}`;
      await adminQuery(`CREATE DATABASE ${database}`);
      env.WORKFLOW_TARGET_WORLD = '@workflow/world-postgres';
      env.WORKFLOW_POSTGRES_URL = withDatabase(PG_URL, database);
      env.WORKFLOW_POSTGRES_WORKER_CONCURRENCY = String(concurrency);
      env.WORKFLOW_POSTGRES_MAX_POOL_SIZE = String(concurrency + 2);
      await promisify(execFile)(process.execPath, [join(peersDir, 'node_modules/@workflow/world-postgres/bin/setup.js')], { cwd: peersDir, env, timeout: 120_000 });
    }
    try {
      const { stdout } = await promisify(execFile)(
        process.execPath,
        ['--import', 'tsx', '--conditions=@durably/source', join(peersDir, 'src/vercel-child.ts'), world, [...shapes].join(','), String(count), String(concurrency), String(steps), String(maxMs)],
        { cwd: peersDir, env, timeout: 20 * 60_000, maxBuffer: 64 * 1024 * 1024 },
      );
      const line = stdout.trim().split('\n').findLast((l) => l.startsWith('ROWS '));
      if (!line) throw new Error(`Vercel Workflow (${world}) printed no results:\n${stdout.slice(-2000)}`);
      rows.push(...(JSON.parse(line.slice(5)) as Row[]));
      if (database) {
        // Proof that this world really kept its runs in Postgres.
        const c = new pg.Client({ connectionString: withDatabase(PG_URL, database) });
        await c.connect();
        const { rows: counted } = await c.query<{ n: string }>('SELECT count(*) AS n FROM workflow.workflow_runs');
        await c.end();
        rows.push({ shape: 'B1', system: 'vercel-workflow', backend: world, mode: 'check', metric: 'runs_in_postgres', value: Number(counted[0].n), unit: 'runs' });
      }
    } finally {
      if (database) await adminQuery(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`).catch(() => undefined);
    }
  }
  return rows;
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

async function adminQuery(sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}
