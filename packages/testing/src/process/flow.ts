/**
 * The workflow of the process scenarios, defined both in the test process (which starts runs) and in
 * each worker process (which runs them). Step bodies append a line to DURABLY_EFFECTS before and after
 * their work, so the test sees what ran where and when; SLOW_STEP makes that step hang (until its
 * signal fires, as on a hand-back) in the process that has it set.
 */
import { appendFileSync } from 'node:fs';
import { context, step, workflow, type StepContext } from '@durably/core';

export function effect(line: string): void {
  const file = process.env.DURABLY_EFFECTS;
  if (file) appendFileSync(file, `${line} pid=${process.pid} t=${Date.now()}\n`);
}

export const work = step('process.work', async (label: string) => {
  const ctx = context() as StepContext;
  effect(`start ${label} attempt=${ctx.attempt}`);
  if (label === process.env.SLOW_STEP) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 120_000);
      ctx.signal.addEventListener('abort', () => {
        clearTimeout(timer);
        resolve();
      }, { once: true });
    });
    if (ctx.signal.aborted) throw new Error(`step ${label} was aborted`);
  }
  effect(`done ${label}`);
  return `${label}-ok`;
});

export const processFlow = workflow('process.flow', async () => [await work('one'), await work('two'), await work('three')]);
