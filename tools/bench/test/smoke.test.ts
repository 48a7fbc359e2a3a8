import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Row } from '../src/shapes.js';
import type { Ratio } from '../src/rounds.js';
import { ensurePeers, PEERS_DIR } from '../src/peers-install.js';

const benchDir = resolve(import.meta.dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'durably-bench-smoke-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const servers = Boolean(process.env.CI || process.env.DURABLY_BENCH_SERVERS);

// The peers (tools/bench/peers, outside the root install) are installed from their lockfile on first
// use: here, before the bench starts, so that the bench's own time bound measures the bench.
beforeAll(() => {
  if (servers) ensurePeers();
}, 600_000);

// The whole bench at tiny size, as `npm run bench -- --size tiny` runs it: every shape, every system,
// one round. The server backends and the peers join in CI (where the servers always run) or with
// DURABLY_BENCH_SERVERS=1. Timings are not asserted here; the shape of the results is.
it('runs every shape at tiny size and writes rows a script can compare, and a chart', async () => {
  const out = join(dir, 'latest.json');
  const chart = join(dir, 'chart.svg');
  const scope = servers ? [] : ['--backend', 'memory', '--backend', 'local', '--system', 'durably'];
  const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', '--import', 'tsx', '--conditions=@durably/source', 'src/main.ts', '--size', 'tiny', '--rounds', '1', '--out', out, '--chart', chart, ...scope], {
    cwd: benchDir,
    // DynamoDB + SQS on their emulators add about a minute (a JVM to start, a slower store).
    timeout: 420_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  expect(stdout).toContain(`wrote ${out}`);
  const { rows, rounds, ratios } = JSON.parse(readFileSync(out, 'utf8')) as { rows: Row[]; rounds: number; ratios: Ratio[] };
  expect(rounds).toBe(1);
  for (const r of rows) {
    expect(Object.keys(r).sort()).toEqual(['backend', 'metric', 'mode', 'round', 'shape', 'system', 'unit', 'value']);
    expect(r.round).toBe(1);
    expect(Number.isFinite(r.value), `${r.shape} ${r.system} ${r.backend} ${r.mode} ${r.metric}`).toBe(true);
  }
  const shapes = new Set(rows.map((r) => r.shape));
  for (const s of ['B1', 'B2', 'B3', 'B4', 'B5', 'B6', 'B7', 'B8', 'B9']) expect(shapes, s).toContain(s);
  // B8: B1 run by worker processes of their own (1 and 2 at tiny size), with their CPU; its scaling ratio.
  for (const mode of ['inline, 1 worker', 'inline, 2 workers']) {
    const b8 = rows.filter((r) => r.shape === 'B8' && r.backend === 'local' && r.mode === mode).map((r) => r.metric);
    expect(b8, mode).toEqual(expect.arrayContaining(['workflows_per_s', 'latency_p99_ms', 'cpu_client_pct', 'cpu_workers_pct', 'cpu_machine_pct']));
  }
  expect(ratios.map((r) => r.label)).toContain('B8 scaling: workflows/s with 2 worker processes / 1, local inline');
  // B9: the onboarding sample started in a fresh node process, to its first step, and the breakdown.
  const b9 = rows.filter((r) => r.shape === 'B9' && r.backend === 'local');
  expect(b9.filter((r) => r.mode === 'onboarding sample, first start').map((r) => r.metric)).toContain('spawn_to_first_step_ms');
  expect(b9.filter((r) => r.mode === 'instrumented, first start').map((r) => r.metric)).toEqual(expect.arrayContaining(['node_and_tsx_ms', 'load_core_ms', 'connect_migrate_ms', 'first_step_ms']));
  const systems = servers ? ['durably', 'dbos', 'bullmq', 'vercel-workflow'] : ['durably'];
  for (const system of systems) {
    const b1 = rows.filter((r) => r.shape === 'B1' && r.system === system).map((r) => r.metric);
    expect(b1, system).toEqual(expect.arrayContaining(['workflows_per_s', 'steps_per_s', 'latency_p50_ms', 'latency_p99_ms']));
    const b2 = rows.filter((r) => r.shape === 'B2' && r.system === system).map((r) => r.metric);
    expect(b2, system).toEqual(expect.arrayContaining(['total_ms', 'gap_ratio_late_early']));
  }
  if (servers) expect(rows.filter((r) => r.shape === 'B0' && r.system === 'raw').map((r) => r.backend)).toEqual(expect.arrayContaining(['postgres', 'redis', 'rabbitmq', 'local']));
  // Each peer's ratio to Durably on its backend, computed round by round, with its spread.
  const others = new Set(ratios.map((r) => r.other.system));
  for (const system of systems.filter((s) => s !== 'durably')) expect(others, system).toContain(system);
  for (const r of ratios) {
    expect(r.perRound.length, r.label).toBe(1);
    expect(r.min <= r.median && r.median <= r.max && r.min > 0, r.label).toBe(true);
  }
  // With inline steps, one storage write per step in steady state, on every backend: a run of n steps
  // costs n + 1 appends (the first step's start goes with run_started), so 4/3 for B1's 3-step runs.
  // Lease renewals (appends without events) are counted apart: a backend slower than a third of the
  // step lease per round trip (the emulators on a busy machine) renews leases while steps wait.
  const b1Inline = rows.filter((x) => x.shape === 'B1' && x.system === 'durably' && x.mode === 'inline');
  for (const r of b1Inline.filter((x) => x.metric === 'appends_per_step')) {
    const moves = b1Inline.find((x) => x.backend === r.backend && x.metric === 'timer_moves_per_step')!.value;
    expect(r.value - moves, r.backend).toBeLessThanOrEqual(4 / 3 + 1e-9);
  }
  const svg = readFileSync(chart, 'utf8');
  expect(svg.startsWith('<svg')).toBe(true);
  expect(svg).toContain('B1 throughput');
  if (servers) expect(svg).toContain('Durably ÷ the system on the same backend');
}, 480_000);

// The peers' sources are outside the bench's own typecheck (which must not need them installed).
it.runIf(servers)('the peers\' sources typecheck against the installed peers', async () => {
  await promisify(execFile)(process.execPath, [resolve(benchDir, '../../node_modules/typescript/bin/tsc'), '-p', join(PEERS_DIR, 'tsconfig.json')], { cwd: benchDir, timeout: 240_000 });
}, 300_000);
