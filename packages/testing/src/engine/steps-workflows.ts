/**
 * Workflows of the engine suite's steps and retries: backoff, fatal errors, retryAfter, per-attempt
 * timeouts, checkpoints, queues and argument schemas.
 */
import { z } from 'zod';
import { checkpoint, context, FatalError, RetryableError, step, workflow, type StepContext, type Workflow } from '@durably/core';
import { bump, runIdOf } from './effects.js';
import { echo } from './basics-workflows.js';

export const flaky = step(
  'suite.flaky',
  async (failures: number, kind: 'retryable' | 'plain') => {
    const ctx = context() as StepContext;
    const n = bump(`${ctx.runId}:flaky`);
    if (n <= failures) {
      if (kind === 'retryable') throw new RetryableError(`busy (attempt ${ctx.attempt})`);
      throw new Error(`boom (attempt ${ctx.attempt})`);
    }
    return { attempt: ctx.attempt, executions: n };
  },
  { retries: 3, backoff: { initial: 20, factor: 2, jitter: false } },
);

export const retrying = workflow('suite.retrying', async (failures: number, kind: 'retryable' | 'plain') => flaky(failures, kind));

export const declined = step('suite.declined', async () => {
  bump(`${runIdOf()}:declined`);
  throw new FatalError('card declined');
});

export const fatalWf = workflow('suite.fatal', async (catchIt: boolean) => {
  if (!catchIt) return declined();
  try {
    await declined();
    return 'not reached';
  } catch (err) {
    return { caught: (err as Error).name, message: (err as Error).message, cause: ((err as Error).cause as Error | undefined)?.message };
  }
});

export const retryAfterStep = step(
  'suite.retry-after',
  async () => {
    const ctx = context() as StepContext;
    if (ctx.attempt === 1) throw new RetryableError('rate limited', { retryAfter: '150ms' });
    return ctx.attempt;
  },
  { retries: 2, backoff: { initial: '1m' } },
);

export const retryAfterWf = workflow('suite.retry-after', async () => retryAfterStep());

export const slowStep = step(
  'suite.slow',
  async (ms: number) => {
    const ctx = context() as StepContext;
    bump(`${ctx.runId}:slow`);
    if (ctx.attempt === 1) {
      await new Promise((r) => setTimeout(r, ms));
      return `late attempt ${ctx.attempt} (aborted: ${ctx.signal.aborted})`;
    }
    return `attempt ${ctx.attempt}`;
  },
  { timeout: '100ms', retries: 1, backoff: { initial: 10, jitter: false } },
);

export const timeoutWf = workflow('suite.timeout', async () => slowStep(400));

export const alwaysFails = step(
  'suite.always-fails',
  async () => {
    bump(`${runIdOf()}:always`);
    throw new Error('still broken');
  },
  { retries: 2, backoff: { initial: 10, jitter: false } },
);

export const exhaustedWf = workflow('suite.exhausted', async () => alwaysFails());

export const emailQueueStep = step(
  'suite.email-on-queue',
  async (to: string) => {
    bump(`${runIdOf()}:email-queue`);
    return `sent to ${to} by ${process.pid}`;
  },
  { queue: 'suite-email' },
);

export const routedWf = workflow('suite.routed', async (to: string) => {
  const a = await echo('before');
  const b = await emailQueueStep(to);
  return { a, b };
});

export const positive = step('suite.positive', async (n: number) => n * 2, { schema: z.tuple([z.number().positive()]), retries: 3 });

export const validatedWf = workflow(
  'suite.validated',
  async (email: string, n: number) => {
    try {
      return await positive(n);
    } catch (err) {
      return { name: (err as Error).name, cause: ((err as Error).cause as Error | undefined)?.name, email };
    }
  },
  { schema: z.tuple([z.string().email(), z.number()]) },
);

/** Processes items 1..n, checkpointing after each; the first attempt fails after `failAfter` items. */
export const processed = new Map<string, number[]>();

export const checkpointed = step(
  'suite.checkpointed',
  async (n: number, failAfter: number) => {
    const ctx = context() as StepContext;
    let done = (await checkpoint.load<number>()) ?? 0;
    while (done < n) {
      done++;
      processed.set(ctx.runId, [...(processed.get(ctx.runId) ?? []), done]);
      await checkpoint.save(done);
      if (ctx.attempt === 1 && done === failAfter) throw new RetryableError('interrupted mid-way');
    }
    return done;
  },
  { retries: 2, backoff: { initial: 10, jitter: false } },
);

export const checkpointWf = workflow('suite.checkpoint', async (n: number, failAfter: number) => checkpointed(n, failAfter));

/** The workflows above that the suite's workers register. */
export const stepsWorkflows: Workflow<any[], any>[] = [retrying, fatalWf, retryAfterWf, timeoutWf, exhaustedWf, routedWf, checkpointWf, validatedWf];
