/**
 * Workflows of the engine suite's cancellation tests: a step that waits for its abort signal, and shielded cleanup.
 */
import { context, shield, sleep, step, workflow, type StepContext, type Workflow } from '@durably/core';
import { bump, runIdOf } from './effects.js';

export const waitForAbort = step('suite.wait-for-abort', async () => {
  const ctx = context() as StepContext;
  bump(`${ctx.runId}:abortable-started`);
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 20_000);
    ctx.signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
  if (ctx.signal.aborted) bump(`${ctx.runId}:aborted`);
  return 'finished';
});

export const cleanup = step('suite.cleanup', async () => {
  bump(`${runIdOf()}:cleanup`);
  return 'cleaned';
});

export const cancellable = workflow('suite.cancellable', async () => {
  try {
    await waitForAbort();
    await sleep(60_000);
    return 'not cancelled';
  } finally {
    await shield(() => cleanup());
  }
});

/** The workflows above that the suite's workers register. */
export const cancellationWorkflows: Workflow<any[], any>[] = [cancellable];
