/**
 * Workflows of the engine suite's recovery tests: work handed back on stop, and a step whose worker dies.
 */
import { context, step, workflow, type StepContext, type Workflow } from '@durably/core';
import { bump } from './effects.js';

/** Hangs on its first execution until its signal fires (the worker hands it back); quick afterwards. */
export const handBackStep = step('suite.hand-back', async () => {
  const ctx = context() as StepContext;
  if (bump(`${ctx.runId}:hand-back`) === 1) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 30_000);
      ctx.signal.addEventListener('abort', () => {
        clearTimeout(timer);
        resolve();
      }, { once: true });
    });
    return `first (aborted: ${ctx.signal.aborted})`;
  }
  return 'second';
});

export const handBackWf = workflow('suite.hand-back', async () => handBackStep());

/** Hangs on its first execution until the test releases it (its worker "dies" meanwhile); quick afterwards. */
export const releases = new Map<string, () => void>();

export const lossStep = step('suite.loss', async () => {
  const ctx = context() as StepContext;
  if (bump(`${ctx.runId}:loss`) === 1) await new Promise<void>((resolve) => releases.set(ctx.runId, resolve));
  return 'done';
});

export const recovering = workflow('suite.recovering', async () => lossStep());

export const fragile = workflow('suite.fragile', async () => lossStep(), { recoverOnWorkerLoss: false });

/** The workflows above that the suite's workers register. */
export const recoveryWorkflows: Workflow<any[], any>[] = [handBackWf, recovering, fragile];
