import { expect, it } from 'vitest';
import { expectRows, runTinyBench, smokeSetup } from './smoke-run.js';

const { dir } = smokeSetup();

// The bench's growth, scale-out and cold-start shapes at tiny size, one round, beside smoke.test.ts
// (B0-B6). Timings are not asserted; the shape of the results is.
it('runs B7-B9 at tiny size: growth, scale-out with its CPU and ratio, cold start with its breakdown', async () => {
  const { rows, rounds, ratios } = await runTinyBench(dir, 'scale', ['--shape', 'B7', '--shape', 'B8', '--shape', 'B9']);
  expectRows(rows, rounds, ['B7', 'B8', 'B9']);
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
}, 480_000);
