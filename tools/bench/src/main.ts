/**
 * Durably on every backend, side by side with the engines a user would pick instead (DBOS Transact
 * on the same Postgres, BullMQ on the same Redis, Vercel Workflow's local and Postgres worlds, Restate's
 * server) and the raw limits of the servers, in one run on one machine. The peers are a project of their
 * own (tools/bench/peers), installed from its lockfile the first time the bench runs one.
 *
 *   npm run bench                                   # everything, 3 interleaved rounds
 *   npm run bench -- --shape B7 --backend postgres  # a part (B7: growth, on postgres, redis and local)
 *   npm run bench -- --shape B1 --backend postgres  # a part (backends: memory, local, redis, redis-cluster, postgres, postgres+redis, postgres+rabbitmq, local+rabbitmq)
 *   npm run bench -- --system durably --system raw  # only some systems (durably, dbos, bullmq, vercel-workflow, restate, raw)
 *   npm run bench -- --rounds 5                     # more rounds (3 by default, 1 at tiny size)
 *   npm run bench -- --size tiny                    # smoke run
 *   npm run bench -- --shape B8 --workflows 500     # B1's and B8's workflows per part (2,000 by default)
 *   npm run bench -- --backend dynamodb+sqs         # DynamoDB + SQS on their emulators (in a private network namespace)
 *   npm run bench -- --shape B8                     # scale-out: B1 run by 1, 2 and 4 worker processes (local and the server pairs)
 *   npm run bench -- --shape B9                     # cold start of the onboarding sample, spawn to first step (also on dynamodb+sqs)
 *
 * Each group of parts (a shape on a backend, with the peer and the raw limit it is compared with) runs
 * `--rounds` times in turn: Durably, peer, Durably, peer. Prints one table per shape (median, min, max
 * over the rounds) and the ratios, writes tools/bench/results/latest.json (rows of { shape, system,
 * backend, mode, metric, value, unit, round }, their summaries and the ratios) and renders docs/performance.svg.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { BACKENDS, b1, b2, b3, b4, b5, b6, type Row } from './shapes.js';
import { ladder } from './rabbitmq-backends.js';
import { renderChart } from './chart.js';
import { COMPARISONS, ratios, summarize } from './rounds.js';
import { B7_BACKENDS, b7, b7Comparisons } from './b7.js';
import { loadPeer } from './peers-install.js';
import { URL_BACKENDS, openUrlBackend } from './url-backends.js';
import { WORKER_COUNTS, b8 } from './scale-out.js';
import { b9, bareNode } from './cold-start.js';

const USAGE = `Usage: npm run bench -- [options]

  --shape B0..B9      the shapes to run (repeatable; all by default)
  --backend NAME      memory, local, redis, redis-cluster, postgres, postgres+redis, postgres+rabbitmq,
                      local+rabbitmq, dynamodb+sqs (repeatable; all but redis-cluster by default)
  --system NAME       durably, dbos, bullmq, vercel-workflow, restate, raw (repeatable; all by default)
  --rounds N          interleaved rounds per part (3 by default, 1 at tiny size)
  --size full|tiny    tiny: a smoke run
  --workflows N       B1's and B8's workflows per part (2,000 by default)
  --out FILE          the JSON rows (tools/bench/results/latest.json)
  --chart FILE        the SVG chart (docs/performance.svg)
  -h, --help          this text
`;

let parsed;
try {
  parsed = parseArgs({
    options: {
      shape: { type: 'string', multiple: true },
      backend: { type: 'string', multiple: true },
      system: { type: 'string', multiple: true },
      size: { type: 'string', default: 'full' },
      out: { type: 'string', default: join(import.meta.dirname, '../results/latest.json') },
      chart: { type: 'string' },
      rounds: { type: 'string' },
      workflows: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n\n${USAGE}`);
  process.exit(2);
}
const { values } = parsed;
if (values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}

// Vercel Workflow's local world adds many abort listeners to one signal; its warnings are noise here.
process.removeAllListeners('warning');
process.on('warning', (w) => {
  if (w.name !== 'MaxListenersExceededWarning' && w.name !== 'DeprecationWarning') process.stderr.write(`${w.name}: ${w.message}\n`);
});

const tiny = values.size === 'tiny';
/** --workflows: B1's and B8's count of workflows per part instead of the size's (2,000; 40 and 20 at tiny). */
const workflows = values.workflows === undefined ? undefined : Number(values.workflows);
if (workflows !== undefined && !(Number.isInteger(workflows) && workflows >= 1)) throw new Error(`--workflows must be a whole number of at least 1, not "${values.workflows}".`);
const sizes = {
  raw: tiny ? 300 : 3000,
  b1: workflows ?? (tiny ? 40 : 2000),
  b2: tiny ? 50 : 1000,
  b3: tiny ? 20 : 1000,
  b4: tiny ? 100 : 10_000,
  b5: tiny ? 10 : 100,
  b6: tiny ? 10 : 200,
  /** B7: finished runs in storage at each level. */
  b7Levels: tiny ? [0, 1000, 5000] : [0, 100_000, 500_000],
  /** Vercel Workflow's local world replays the whole history per step: its runs are bounded. */
  vercelB1Ms: tiny ? 3000 : 30_000,
  vercelB2: tiny ? 20 : 250,
  b8: workflows ?? (tiny ? 20 : 2000),
  /** B8's worker processes: at tiny size only 1 and 2 (and inline steps only), to keep the smoke run short. */
  b8Workers: tiny ? WORKER_COUNTS.slice(0, 2) : WORKER_COUNTS,
  /** B9: fresh processes per kind of start and round (the first of each is on empty storage). */
  b9Starts: tiny ? 1 : 3,
};
const SHAPES = ['B0', 'B1', 'B2', 'B3', 'B4', 'B5', 'B6', 'B7', 'B8', 'B9'];
const SYSTEMS = ['durably', 'dbos', 'bullmq', 'vercel-workflow', 'restate', 'raw'];
const shapes = new Set((values.shape ?? SHAPES).map((s) => s.toUpperCase()));
for (const s of shapes) if (!SHAPES.includes(s)) throw new Error(`Unknown shape "${s}". Known: ${SHAPES.join(', ')}`);
const systems = new Set(values.system ?? SYSTEMS);
for (const s of systems) if (!SYSTEMS.includes(s)) throw new Error(`Unknown system "${s}". Known: ${SYSTEMS.join(', ')}`);
/** Backends measured in a child process of their own (see aws.ts). */
const CHILD_BACKENDS = ['dynamodb+sqs'];
/** Measured only when asked for (--backend redis-cluster): it starts six servers of its own. */
const OPT_IN_BACKENDS = ['redis-cluster'];
const backendNames = values.backend ?? [...Object.keys(BACKENDS).filter((b) => !OPT_IN_BACKENDS.includes(b)), ...CHILD_BACKENDS];
for (const b of backendNames) if (!BACKENDS[b] && !CHILD_BACKENDS.includes(b)) throw new Error(`Unknown backend "${b}". Known: ${[...Object.keys(BACKENDS), ...CHILD_BACKENDS].join(', ')}`);
const wants = (backend: string) => backendNames.includes(backend) || (backend === 'postgres' && backendNames.some((b) => b.startsWith('postgres'))) || (backend === 'redis' && backendNames.some((b) => b.includes('redis')));

// The redis-cluster backend's private cluster lives for the whole bench.
const clusterBench = backendNames.includes('redis-cluster') ? await import('./redis-cluster.js') : undefined;
await clusterBench?.startBenchCluster();

const rounds = Number(values.rounds ?? (tiny ? 1 : 3));
if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds must be a whole number of at least 1, not "${values.rounds}".`);

const rows: Row[] = [];
/**
 * A part of the bench. Parts of one group run together, round after round (the group's parts in
 * order, then again), so that Durably and the system it is compared with are measured in turn.
 */
interface Task {
  label: string;
  group: string;
  run: () => Promise<Row[]>;
}
const tasks: Task[] = [];
const task = (group: string, label: string, run: () => Promise<Row[]>) => tasks.push({ group, label, run });

if (systems.has('raw') && shapes.has('B0')) {
  const { rawPostgres, rawRedis, rawRabbit, rawSqlite } = await import('./raw.js');
  // Each server's raw limit runs in the group of the B1 it bounds, so that both see the same load.
  if (wants('postgres')) task('B1 postgres', 'B0 raw Postgres: INSERT commits/s on 1 and 16 connections', () => rawPostgres(sizes.raw));
  if (wants('local')) task('B1 local', 'B0 raw SQLite: INSERT commits/s on one connection, the local backend\'s pragmas', () => rawSqlite(sizes.raw));
  if (wants('redis')) task('B1 redis', 'B0 raw Redis: XADD and EVALSHA ops/s on 1 and 16 connections', () => rawRedis(sizes.raw));
  if (!values.backend || backendNames.some((b) => b.includes('rabbitmq'))) task('B0 rabbitmq', 'B0 raw RabbitMQ: persistent publish-confirm and consume-ack msgs/s', () => rawRabbit(sizes.raw));
}
if (systems.has('durably')) {
  for (const name of backendNames.filter((b) => BACKENDS[b])) {
    const backend = BACKENDS[name];
    for (const mode of ['inline', 'dispatch'] as const) {
      if (shapes.has('B1')) task(`B1 ${name}`, `B1 Durably ${name} ${mode}: ${sizes.b1} workflows x 3 steps at concurrency 50`, () => b1(backend, mode, sizes.b1, 50));
      if (shapes.has('B2')) task(`B2 ${name}`, `B2 Durably ${name} ${mode}: one workflow of ${sizes.b2} sequential steps`, () => b2(backend, mode, sizes.b2));
      if (shapes.has('B5')) task(`B5 ${name}`, `B5 Durably ${name} ${mode}: one workflow of ${sizes.b5} parallel steps`, () => b5(backend, mode, sizes.b5));
    }
    if (shapes.has('B3')) {
      const g = `B3 ${name}`;
      task(g, `B3 Durably ${name}: ${sizes.b3} workflows sleeping 1 s`, () => b3(backend, sizes.b3, 1000));
      if (!tiny) task(g, `B3 Durably ${name}: ${sizes.b3} workflows sleeping 10 s`, () => b3(backend, sizes.b3, 10_000));
      // A sleep past the workers' window wakes through the broker, sent a window early and held by
      // the worker that receives it: a 10 s sleep beyond a 5 s window stands for a day's sleep.
      if (!tiny) task(g, `B3 Durably ${name}: ${sizes.b3} workflows sleeping 10 s beyond a 5 s window (woken through the broker)`, () => b3(backend, sizes.b3, 10_000, 5_000));
      if (name.includes('rabbitmq')) {
        // With no window at all, every wake-up is a delayed message: the delay ladder's own lateness.
        task(g, `B3 Durably ${name}: ${sizes.b3} workflows sleeping 1 s, woken by the broker's delay`, () => b3(backend, sizes.b3, 1000, 0));
        if (!tiny) task(g, `B3 Durably ${name}: ${sizes.b3} workflows sleeping 10 s, woken by the broker's delay`, () => b3(backend, sizes.b3, 10_000, 0));
        // 65,535 ms = 16 "1" bits: a delay that waits in 16 of the ladder's levels, past the 60 s window.
        if (!tiny && name === 'local+rabbitmq') task(g, `B3 Durably ${name}: ${sizes.b3} workflows sleeping 65.535 s (16 delay levels)`, () => b3(backend, sizes.b3, 65_535));
      }
    }
    if (shapes.has('B4')) {
      task(`B4 ${name}`, `B4 Durably ${name}: ${sizes.b4} runs suspended on a 1 h sleep`, () => b4(backend, sizes.b4, 'sleep'));
      task(`B4 ${name}`, `B4 Durably ${name}: ${sizes.b4} runs suspended on a hook`, () => b4(backend, sizes.b4, 'hook'));
    }
    if (shapes.has('B6')) task(`B6 ${name}`, `B6 Durably ${name}: ${sizes.b6} hook round trips`, () => b6(backend, sizes.b6, 10));
    if (shapes.has('B7') && B7_BACKENDS.includes(name)) {
      const levels = sizes.b7Levels.map((n) => n.toLocaleString('en-US')).join(' / ');
      task(`B7 ${name}`, `B7 Durably ${name}: B1, B6 and listRuns with ${levels} finished runs loaded`, () =>
        b7(backend, { levels: sizes.b7Levels, b1: sizes.b1, b6: sizes.b6, queries: tiny ? 20 : 100 }),
      );
    }
  }
  // B8 and B9 run Durably in processes of their own, on backends named by URL (memory: is per process).
  for (const name of backendNames.filter((b) => (URL_BACKENDS as readonly string[]).includes(b))) {
    if (shapes.has('B8')) {
      for (const mode of tiny ? (['inline'] as const) : (['inline', 'dispatch'] as const)) {
        for (const n of sizes.b8Workers) {
          task(`B8 ${name}`, `B8 Durably ${name} ${mode}: ${sizes.b8} workflows x 3 steps at concurrency 50, ${n} worker process${n > 1 ? 'es' : ''}`, () => b8(name, mode, n, sizes.b8, 50));
        }
      }
    }
    if (shapes.has('B9')) task(`B9 ${name}`, `B9 cold start on ${name}: the onboarding sample and its instrumented twin, ${sizes.b9Starts} fresh processes each`, () => b9(name, () => openUrlBackend(name), sizes.b9Starts));
  }
  if (shapes.has('B9')) task('B9 node', `B9 bare node -e 0, ${sizes.b9Starts * 2} times`, () => bareNode(sizes.b9Starts * 2));
}
if (systems.has('durably') && backendNames.includes('dynamodb+sqs') && [...shapes].some((s) => s !== 'B0' && s !== 'B7' && s !== 'B8')) {
  task('dynamodb+sqs', 'B1-B6 and B9 Durably dynamodb+sqs on emulators (DynamoDB Local, fauxqs), in a private network namespace', async () => {
    const { dynamodbSqs } = await import('./aws.js');
    try {
      return await dynamodbSqs(shapes, { b1: sizes.b1, b2: sizes.b2, b3: sizes.b3, b4: sizes.b4, b5: sizes.b5, b6: sizes.b6, b9Starts: sizes.b9Starts }, tiny);
    } catch (err) {
      // The parts that ran keep their rows; the failure is still reported.
      throw Object.assign(err as Error, { rows: (err as { rows?: Row[] }).rows ?? [] });
    }
  });
}
if (systems.has('durably') && shapes.has('B3') && backendNames.some((b) => b.includes('rabbitmq'))) {
  task('B3 ladder', 'B3 RabbitMQ delay ladder alone: 10 messages each delayed 100 ms, 1 s, 4.095 s, 10 s', () => ladder([100, 1000, 4095, 10_000], 10));
  task('B3 ladder', `B3 RabbitMQ delay ladder alone: a burst of ${tiny ? 100 : 1000} messages delayed 1 s`, () => ladder([1000], tiny ? 100 : 1000));
}
// The peers, each in the group of the Durably backend it is compared with.
for (const shape of ['B1', 'B2'].filter((s) => shapes.has(s))) {
  const what = shape === 'B1' ? `${sizes.b1} workflows x 3 steps` : `${sizes.b2} sequential steps`;
  if (systems.has('dbos') && wants('postgres')) task(`${shape} postgres`, `${shape} DBOS Transact on Postgres: ${what}`, () => loadPeer('peers.js').then((m) => m.dbos(new Set([shape]), sizes.b1, 50, sizes.b2)));
  if (systems.has('bullmq') && wants('redis')) {
    if (shape === 'B1') task('B1 redis', `B1 BullMQ on Redis: ${sizes.b1} chains of 3 jobs at concurrency 50`, () => loadPeer('peers.js').then((m) => m.bullmqB1(sizes.b1, 50)));
    else task('B2 redis', `B2 BullMQ on Redis: one chain of ${sizes.b2} jobs`, () => loadPeer('peers.js').then((m) => m.bullmqB2(sizes.b2)));
  }
  // Restate syncs its log before it acknowledges, like the local backend (and Postgres): measured beside local.
  if (systems.has('restate') && (!values.backend || wants('local') || wants('postgres'))) {
    task(`${shape} local`, `${shape} Restate server (fsync on): ${shape === 'B1' ? `${sizes.b1} invocations of 3 ctx.run at concurrency 50` : `one handler of ${sizes.b2} sequential ctx.run`}`, () =>
      loadPeer('restate.js').then((m) => m.restateShapes(new Set([shape]), sizes.b1, 50, sizes.b2)),
    );
  }
  if (systems.has('vercel-workflow')) {
    for (const [world, near] of [['local world', 'local'], ['postgres world', 'postgres']] as const) {
      if (values.backend && !wants(near)) continue;
      const vwhat = shape === 'B1' ? `3-step workflows for ${sizes.vercelB1Ms / 1000} s` : `one workflow of ${sizes.vercelB2} steps`;
      task(`${shape} ${near}`, `${shape} Vercel Workflow, ${world}: ${vwhat}`, () =>
        loadPeer('vercel.js').then((m) => m.vercelWorkflow(new Set([shape]), sizes.b1, 50, sizes.vercelB2, sizes.vercelB1Ms, [world])),
      );
    }
  }
}

const failures: string[] = [];
const began = Date.now();
// Groups in shape order (B0 ... B6, then the emulators' child process), each run `rounds` times over.
const rank = (g: string) => (SHAPES.includes(g.split(' ')[0]) ? SHAPES.indexOf(g.split(' ')[0]) : SHAPES.length);
const groups = [...new Set(tasks.map((t) => t.group))].sort((a, b) => rank(a) - rank(b));
const order = groups.flatMap((g) => Array.from({ length: rounds }, (_, i) => tasks.filter((t) => t.group === g).map((t) => ({ ...t, round: i + 1 }))).flat());
for (const [i, t] of order.entries()) {
  const elapsed = ((Date.now() - began) / 1000).toFixed(0);
  process.stderr.write(`[${i + 1}/${order.length}, ${elapsed} s]${rounds > 1 ? ` round ${t.round}/${rounds}:` : ''} ${t.label} … `);
  const t0 = Date.now();
  try {
    const result = await t.run();
    rows.push(...result.map((r) => ({ ...r, round: t.round })));
    process.stderr.write(`${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  } catch (err) {
    // The other parts still run (a server that is down fails only its own rows); the exit code says it.
    rows.push(...((err as { rows?: Row[] }).rows ?? []).map((r) => ({ ...r, round: t.round })));
    failures.push(`${t.label}${rounds > 1 ? ` (round ${t.round})` : ''}: ${(err as Error).message}`);
    process.stderr.write(`failed: ${(err as Error).message}\n`);
  }
}

const summaries = summarize(rows);
const fmt = (v: number) => Number(v.toFixed(3));
for (const shape of SHAPES.filter((s) => summaries.some((r) => r.shape === s))) {
  // B9 has a row per process started (several per round): its figures are over all of them.
  const perProcess = shape === 'B9';
  console.log(`\n${shape}${perProcess ? ` (median and range over every process started, ${sizes.b9Starts} per kind of start and round, ${rounds} round${rounds > 1 ? 's' : ''})` : rounds > 1 ? ` (median and range over ${rounds} rounds)` : ''}`);
  console.table(
    summaries
      .filter((r) => r.shape === shape)
      .map((r) => ({ system: r.system, backend: r.backend, mode: r.mode, metric: r.metric, median: fmt(r.median), min: fmt(r.min), max: fmt(r.max), [perProcess ? 'processes' : 'rounds']: r.rounds, unit: r.unit })),
  );
}
const measuredRatios = ratios(rows, [...COMPARISONS, ...b7Comparisons(sizes.b7Levels)]);
if (measuredRatios.length > 0) {
  console.log(`\nRatios (above 1 = Durably ahead), each computed per round, then its median and range`);
  console.table(measuredRatios.map((r) => ({ ratio: r.label, median: fmt(r.median), min: fmt(r.min), max: fmt(r.max), rounds: r.perRound.length, 'per round': r.perRound.map((p) => p.value.toFixed(2)).join(' ') })));
}
mkdirSync(join(values.out!, '..'), { recursive: true });
const at = new Date().toISOString();
writeFileSync(values.out!, JSON.stringify({ at, node: process.version, size: values.size, rounds, rows, summaries, ratios: measuredRatios }, null, 2) + '\n');
console.log(`\nwrote ${values.out}`);
const chart = values.chart ?? (tiny || values.shape || values.backend || values.system ? undefined : join(import.meta.dirname, '../../../docs/performance.svg'));
if (chart) {
  writeFileSync(chart, renderChart(rows, `${at.slice(0, 10)} · Node ${process.version} · 2 cores · same machine, same servers`));
  console.log(`wrote ${chart}`);
}
await clusterBench?.stopBenchCluster();
process.stderr.write(`\nbench finished in ${((Date.now() - began) / 1000).toFixed(0)} s\n`);
if (failures.length > 0) {
  process.stderr.write(`${failures.length} part(s) failed:\n${failures.map((f) => `  - ${f}`).join('\n')}\n`);
  process.exit(1);
}
process.exit(0);
