/** The figures every peer reports, computed the same way as Durably's (see src/shapes.ts). */
import { percentile, type Row } from '../../src/shapes.js';

export function b1Rows(system: Row['system'], backend: string, count: number, seconds: number, latencies: number[]): Row[] {
  latencies.sort((a, b) => a - b);
  const row = (metric: string, value: number, unit: string): Row => ({ shape: 'B1', system, backend, mode: 'inline', metric, value, unit });
  return [
    row('workflows_per_s', count / seconds, 'workflows/s'),
    row('steps_per_s', (count * 3) / seconds, 'steps/s'),
    row('latency_p50_ms', percentile(latencies, 50), 'ms'),
    row('latency_p99_ms', percentile(latencies, 99), 'ms'),
  ];
}

export function b2Rows(system: Row['system'], backend: string, mode: string, total: number, steps: number, gaps: number[]): Row[] {
  const tenth = Math.max(1, Math.floor(gaps.length / 10));
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const early = mean(gaps.slice(0, tenth));
  const late = mean(gaps.slice(-tenth));
  const row = (metric: string, value: number, unit: string): Row => ({ shape: 'B2', system, backend, mode, metric, value, unit });
  return [row('total_ms', total, 'ms'), row('ms_per_step', total / steps, 'ms'), row('gap_early_ms', early, 'ms'), row('gap_late_ms', late, 'ms'), row('gap_ratio_late_early', late / early, 'x')];
}

/** Client loop shared by the B1 measurements: warm-up, then `count` runs at `concurrency`. */
export async function closedLoop(count: number, concurrency: number, runOne: () => Promise<void>, latencies: number[]): Promise<number> {
  await Promise.all(Array.from({ length: Math.min(50, count) }, runOne));
  latencies.length = 0;
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < count) await runOne();
    }),
  );
  return (performance.now() - t0) / 1000;
}
