/**
 * The workflows, steps and hooks the bad-input table acts on. Names start with `badinput.`, so they
 * never meet the engine suite's in one process.
 */
import { z } from 'zod';
import { context, defineHook, step, waitForSignal, workflow, type StepContext, type Workflow } from '@durably/core';

/** The queue the table's main worker consumes, and the one of the worker with the small event limit. */
export const WORK_QUEUE = 'badinput';
export const TIGHT_QUEUE = 'badinput-tight';
/** A queue no worker consumes: runs started on it stay pending, so they change nothing after the act. */
export const IDLE_QUEUE = 'badinput-idle';
/** The tight client's limits: a run fails at its 30th event. */
export const TIGHT_LIMITS = { maxEvents: 30, warnEvents: 20 };

export const Decision = z.object({ approved: z.boolean(), by: z.string().min(1) });
export const decision = defineHook<z.infer<typeof Decision>>('badinput.decision', { schema: Decision });

/** Tokens leave the run through a step, as they would in an email. */
export const issuedTokens = new Map<string, string>();
export const publishToken = step('badinput.publish-token', async (token: string) => {
  issuedTokens.set((context() as StepContext).runId, token);
});

/** Waits on a hook for `timeoutMs`; returns the payload, or the name of the error. */
export const approval = workflow(
  'badinput.approval',
  async (timeoutMs: number) => {
    const hook = decision.create({ timeout: timeoutMs });
    await publishToken(hook.token);
    try {
      return { payload: await hook };
    } catch (err) {
      return { error: (err as Error).name };
    }
  },
  { queue: WORK_QUEUE },
);

/** Waits for one signal `name`. */
export const listener = workflow('badinput.listener', async (name: string) => waitForSignal(name), { queue: WORK_QUEUE });

/** Returns its argument. */
export const echo = workflow('badinput.echo', async (value: unknown) => value, { queue: WORK_QUEUE });

const boom = step('badinput.boom', async () => {
  throw new Error('seeded failure');
}, { retries: 0 });
/** Fails at once. */
export const failing = workflow('badinput.failing', async () => {
  await boom();
}, { queue: WORK_QUEUE });

/** A step whose result is `bytes` long. */
export const bigStep = step('badinput.big-step', async (bytes: number) => 'x'.repeat(bytes));
export const bigResult = workflow('badinput.big-result', async (bytes: number) => bigStep(bytes), { queue: WORK_QUEUE });

/** A step that returns a function: not data. */
export const fnStep = step('badinput.fn-step', async () => (() => 1) as unknown as number);
export const fnResult = workflow('badinput.fn-result', async () => fnStep(), { queue: WORK_QUEUE });

const tick = step('badinput.tick', async (i: number) => i);
/** `n` steps, on the tight worker: past its event limit for n >= 14. */
export const manySteps = workflow('badinput.many-steps', async (n: number) => {
  for (let i = 0; i < n; i++) await tick(i);
  return n;
}, { queue: TIGHT_QUEUE });

/** Waits for one signal `name`, on the tight worker (its log may hold 30 events). */
export const tightListener = workflow('badinput.tight-listener', async (name: string) => waitForSignal(name), { queue: TIGHT_QUEUE });

/** Takes one e-mail address, checked at start by its schema. */
export const mailer = workflow('badinput.mailer', async (to: string) => to, { queue: WORK_QUEUE, schema: z.tuple([z.string().email()]) });

/** Defined here, but registered with no worker: its runs wait for a worker that has it. */
export const notOnWorker = workflow('badinput.not-on-worker', async () => 'never', { queue: WORK_QUEUE });

/** The workflows the table's workers register. */
export const badInputWorkflows: Workflow<any[], any>[] = [approval, listener, echo, failing, bigResult, fnResult, manySteps, tightListener, mailer];
