import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, expect, it } from 'vitest';
import type { Row } from '../src/shapes.js';

const benchDir = resolve(import.meta.dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'durably-bench-smoke-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// The whole bench at tiny size, as `npm run bench -- --size tiny` runs it: every shape, every system.
// The server backends and the peers join in CI (where the servers always run) or with
// DURABLY_BENCH_SERVERS=1. Timings are not asserted here; the shape of the results is.
it('runs every shape at tiny size and writes rows a script can compare, and a chart', async () => {
  const servers = Boolean(process.env.CI || process.env.DURABLY_BENCH_SERVERS);
  const out = join(dir, 'latest.json');
  const chart = join(dir, 'chart.svg');
  const scope = servers ? [] : ['--backend', 'memory', '--backend', 'local', '--system', 'durably'];
  const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', '--import', 'tsx', '--conditions=@durably/source', 'src/main.ts', '--size', 'tiny', '--out', out, '--chart', chart, ...scope], {
    cwd: benchDir,
    // DynamoDB + SQS on their emulators add about a minute (a JVM to start, a slower store).
    timeout: 420_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  expect(stdout).toContain(`wrote ${out}`);
  const { rows } = JSON.parse(readFileSync(out, 'utf8')) as { rows: Row[] };
  for (const r of rows) {
    expect(Object.keys(r).sort()).toEqual(['backend', 'metric', 'mode', 'shape', 'system', 'unit', 'value']);
    expect(Number.isFinite(r.value), `${r.shape} ${r.system} ${r.backend} ${r.mode} ${r.metric}`).toBe(true);
  }
  const shapes = new Set(rows.map((r) => r.shape));
  for (const s of ['B1', 'B2', 'B3', 'B4', 'B5', 'B6']) expect(shapes, s).toContain(s);
  const systems = servers ? ['durably', 'dbos', 'bullmq', 'vercel-workflow'] : ['durably'];
  for (const system of systems) {
    const b1 = rows.filter((r) => r.shape === 'B1' && r.system === system).map((r) => r.metric);
    expect(b1, system).toEqual(expect.arrayContaining(['workflows_per_s', 'steps_per_s', 'latency_p50_ms', 'latency_p99_ms']));
    const b2 = rows.filter((r) => r.shape === 'B2' && r.system === system).map((r) => r.metric);
    expect(b2, system).toEqual(expect.arrayContaining(['total_ms', 'gap_ratio_late_early']));
  }
  if (servers) expect(rows.filter((r) => r.shape === 'B0' && r.system === 'raw').map((r) => r.backend)).toEqual(expect.arrayContaining(['postgres', 'redis', 'rabbitmq']));
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
}, 480_000);
