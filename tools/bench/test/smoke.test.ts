import { expect, it } from 'vitest';
import { BACKENDS, b1, b2, b3, b4, b5 } from '../src/shapes.js';

// Each shape at a tiny size: the bench keeps working. Timings are not asserted here.
it('runs every shape at tiny size on every built-in backend', async () => {
  // The server backends join in CI (where their servers always run) or with DURABLY_BENCH_SERVERS=1.
  const backends = Object.values(BACKENDS).filter((b) => !['postgres', 'redis'].includes(b.name) || process.env.CI || process.env.DURABLY_BENCH_SERVERS);
  for (const backend of backends) {
    const rows = [
      ...(await b1(backend, 'inline', 20, 5)),
      ...(await b1(backend, 'dispatch', 10, 5)),
      ...(await b2(backend, 'inline', 30)),
      ...(await b3(backend, 5, 100)),
      ...(await b4(backend, 20)),
      ...(await b5(backend, 'inline', 10)),
    ];
    for (const r of rows) expect(Number.isFinite(r.value), `${r.shape} ${r.metric} on ${backend.name}`).toBe(true);
    // Inline steps cost at most one storage append each in steady state.
    const perStep = rows.find((r) => r.shape === 'B1' && r.mode === 'inline' && r.metric === 'appends_per_step')!;
    expect(perStep.value).toBeLessThanOrEqual(1);
  }
}, 120_000);
