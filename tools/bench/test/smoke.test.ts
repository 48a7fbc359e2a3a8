import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';
import { PEERS_DIR } from '../src/peers-install.js';
import { benchDir, expectRows, runTinyBench, servers, smokeSetup } from './smoke-run.js';

const { dir } = smokeSetup();

// The bench at tiny size, as `npm run bench -- --size tiny` runs it, one round: shapes B0-B6 with every
// system here; B7-B9 (growth, scale-out, cold start) run beside it in smoke-scale.test.ts. Timings are
// not asserted here; the shape of the results is.
it('runs B0-B6 at tiny size and writes rows a script can compare, and a chart', async () => {
  const chart = join(dir, 'chart.svg');
  const { rows, rounds, ratios } = await runTinyBench(dir, 'core', ['--shape', 'B0', '--shape', 'B1', '--shape', 'B2', '--shape', 'B3', '--shape', 'B4', '--shape', 'B5', '--shape', 'B6', '--chart', chart]);
  expectRows(rows, rounds, ['B1', 'B2', 'B3', 'B4', 'B5', 'B6']);
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
