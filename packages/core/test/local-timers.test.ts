import { expect, it } from 'vitest';
import { LocalTimers, type LocalTimer } from '../src/runtime/worker/local-timers.js';

it('fires timers in due order, in batches of those due together, and drains what is left', async () => {
  const fired: string[][] = [];
  const timers = new LocalTimers(() => Date.now(), (due: LocalTimer[]) => fired.push(due.map((t) => t.runId)));
  const now = Date.now();
  const order = [60, 10, 40, 10, 30, 5000];
  order.forEach((ms, i) => timers.add({ runId: `r${i}:${ms}`, queue: 'default', fireAt: now + ms }));
  expect(timers.size).toBe(6);
  await new Promise((r) => setTimeout(r, 150));
  const flat = fired.flat();
  expect(flat.map((id) => Number(id.split(':')[1]))).toEqual([10, 10, 30, 40, 60]);
  expect(timers.size).toBe(1);
  expect(timers.drain().map((t) => t.runId)).toEqual(['r5:5000']);
  expect(timers.size).toBe(0);
});

it('keeps heap order over many random inserts', async () => {
  const fired: number[] = [];
  const timers = new LocalTimers(() => Date.now(), (due) => fired.push(...due.map((t) => t.fireAt)));
  const now = Date.now();
  for (let i = 0; i < 500; i++) timers.add({ runId: String(i), queue: 'q', fireAt: now + Math.floor(Math.random() * 80) });
  await new Promise((r) => setTimeout(r, 200));
  expect(fired).toHaveLength(500);
  expect(fired).toEqual([...fired].sort((a, b) => a - b));
});
