/**
 * B7, growth: does a storage holding many finished runs slow the live ones down? On one private
 * schema, key prefix or file per round, B1 (throughput and latency), B6 (hook round trip) and the
 * queries whose cost could grow with history (a filtered listRuns page by status and by workflow, the
 * stale-run sweep's listRuns, the timer sweep's claimDueTimers) are measured with 0 finished runs,
 * then again after a bulk load of finished runs (bulk-load.ts) up to each next level.
 */
import { b1, b6, percentile, threeSteps, withEngine, type Backend, type Row } from './shapes.js';
import type { Comparison } from './rounds.js';
import { BULK_LOADERS } from './bulk-load.js';

export interface B7Sizes {
  /** Finished runs in storage at each level, ascending, the first 0. */
  levels: number[];
  b1: number;
  b6: number;
  /** Calls of each query, for its p50 and p99. */
  queries: number;
}

export const B7_BACKENDS = Object.keys(BULK_LOADERS);

/** How far apart the loaded runs were created: a month's history ends a day before the measured runs. */
const HISTORY_MS = 30 * 86_400_000;

export const levelMode = (finished: number) => `${finished.toLocaleString('en-US')} finished`;

/** B7 on one backend, one round: every level in turn on the same storage, which is removed afterwards. */
export async function b7(backend: Backend, sizes: B7Sizes): Promise<Row[]> {
  const load = BULK_LOADERS[backend.name];
  if (!load) throw new Error(`B7 has no bulk loader for the ${backend.name} backend (it has: ${B7_BACKENDS.join(', ')}).`);
  const first = backend.open();
  const location = first.location!;
  // Each part opens the same private location; only the last close below removes it.
  const again: Backend = { name: backend.name, open: () => ({ ...backend.open(location), close: async () => undefined }) };
  const rows: Row[] = [];
  try {
    // The template: one run the engine runs to its end through the adapter, then copied by the loader.
    const template = await withEngine(again, 'inline', async (client) => {
      const run = await client.start(threeSteps, 'x'.repeat(100));
      await run.result({ timeout: '60s' });
      return run.runId;
    });
    let loaded = 0;
    const historyStart = Date.now() - HISTORY_MS - 86_400_000;
    const spacing = Math.max(1, Math.floor(HISTORY_MS / Math.max(1, sizes.levels[sizes.levels.length - 1])));
    for (const level of sizes.levels) {
      const mode = levelMode(level);
      const row = (metric: string, value: number, unit: string): Row => ({ shape: 'B7', system: 'durably', backend: backend.name, mode, metric, value, unit });
      if (level > loaded) {
        const t0 = performance.now();
        await load(location, template, level - loaded, historyStart + loaded * spacing, spacing);
        const s = (performance.now() - t0) / 1000;
        rows.push(row('load_s', s, 's'), row('load_runs_per_s', (level - loaded) / s, 'runs/s'));
        loaded = level;
      }
      const keep = new Set(['workflows_per_s', 'steps_per_s', 'latency_p50_ms', 'latency_p99_ms']);
      for (const r of await b1(again, 'inline', sizes.b1, 50)) if (keep.has(r.metric)) rows.push({ ...r, shape: 'B7', mode });
      for (const r of await b6(again, sizes.b6, 10)) rows.push({ ...r, shape: 'B7', mode });
      rows.push(...(await queries(again, sizes.queries)).map((q) => row(q.metric, q.value, 'ms')));
    }
  } finally {
    await first.storage.close();
    await first.broker.close();
    await first.close();
  }
  return rows;
}

/** p50 and p99 of each query whose cost could grow with the finished runs, on a storage no worker uses. */
async function queries(backend: Backend, calls: number): Promise<Array<{ metric: string; value: number }>> {
  const opened = backend.open();
  const storage = opened.storage;
  try {
    await storage.migrate();
    const now = Date.now();
    const asked: Array<[string, () => Promise<unknown>]> = [
      ['list_by_status', () => storage.listRuns({ status: 'completed', limit: 50 })],
      ['list_by_workflow', () => storage.listRuns({ workflow: threeSteps.definition.name, limit: 50 })],
      // The stale-run sweep's query (worker/sweeps.ts): unfinished runs not touched for a while.
      ['stale_sweep', () => storage.listRuns({ status: ['pending', 'running'], updatedBefore: now - 60_000, limit: 100 })],
      // The timer sweep's claim, of timers overdue by a minute (none here: it measures the lookup).
      ['timer_sweep', () => storage.claimDueTimers(now - 60_000, { limit: 100, leaseMs: 30_000 })],
    ];
    const out: Array<{ metric: string; value: number }> = [];
    for (const [name, call] of asked) {
      await call(); // warm-up: a prepared plan, a cold page
      const ms: number[] = [];
      for (let i = 0; i < calls; i++) {
        const t0 = performance.now();
        await call();
        ms.push(performance.now() - t0);
      }
      ms.sort((a, b) => a - b);
      out.push({ metric: `${name}_p50_ms`, value: percentile(ms, 50) }, { metric: `${name}_p99_ms`, value: percentile(ms, 99) });
    }
    return out;
  } finally {
    await storage.close();
    await opened.broker.close();
  }
}

/**
 * The growth ratios: each figure at the largest level against the same figure with 0 finished runs,
 * said as the other ratios are (throughput: full / empty; latencies: empty / full), so that 1 means
 * no change and 0.9 means 10% slower with the finished runs in storage.
 */
export function b7Comparisons(levels: number[]): Comparison[] {
  const empty = levelMode(levels[0]);
  const full = levelMode(levels[levels.length - 1]);
  const metrics: Array<[string, 'higher' | 'lower', string]> = [
    ['workflows_per_s', 'higher', 'B1 workflows/s'],
    ['latency_p99_ms', 'lower', 'B1 p99'],
    ['round_trip_p99_ms', 'lower', 'B6 hook round trip p99'],
    ['list_by_status_p99_ms', 'lower', 'listRuns by status p99'],
    ['list_by_workflow_p99_ms', 'lower', 'listRuns by workflow p99'],
    ['stale_sweep_p99_ms', 'lower', 'stale-run sweep p99'],
  ];
  return B7_BACKENDS.flatMap((backend) =>
    metrics.map(([metric, better, what]): Comparison => ({
      shape: 'B7',
      metric,
      better,
      durably: { system: 'durably', backend, mode: full },
      other: { system: 'durably', backend, mode: empty },
      label: `B7 ${what}, ${backend}: with ${full} runs against ${empty} (below 1: slower)`,
    })),
  );
}
