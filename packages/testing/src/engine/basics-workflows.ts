/**
 * Workflows of the engine suite's basics: the quick example, values through the log, parallel and raced
 * steps, recorded context values, code changed under a running run, and small workflows other areas reuse.
 */
import { context, defineQuery, isReplaying, sleep, step, waitForSignal, workflow, workflowContext, type StepContext, type WorkflowContext, type Workflow } from '@durably/core';
import { bump, runIdOf } from './effects.js';

export const sendWelcomeEmail = step('suite.send-welcome-email', async (userId: string) => {
  bump(`${runIdOf()}:welcome`);
  return `Welcome email sent to ${userId}`;
});

export const sendTipsEmail = step('suite.send-tips-email', async (userId: string) => {
  bump(`${runIdOf()}:tips`);
  return `Tips email sent to ${userId}`;
});

/** The quick example of the spec, with a short sleep. */
export const onboarding = workflow('suite.onboarding', async (userId: string, sleepMs: number) => {
  const welcome = await sendWelcomeEmail(userId);
  await sleep(sleepMs);
  const tips = await sendTipsEmail(userId);
  return { welcome, tips, done: 'Onboarding complete' };
});

export const echo = step('suite.echo', async (value: unknown) => value);

export const roundTrip = workflow('suite.round-trip', async (value: unknown) => {
  const fromStep = await echo(value);
  return { fromStep, original: value };
});

export const square = step('suite.square', async (n: number, delayMs: number) => {
  bump(`${runIdOf()}:square:${n}`);
  await new Promise((r) => setTimeout(r, delayMs));
  return n * n;
});

export const parallel = workflow('suite.parallel', async (count: number) => {
  const all = await Promise.all(Array.from({ length: count }, (_, i) => square(i, (count - i) * 3)));
  return all;
});

/**
 * Promise.race between a fast and a slow step, then a sleep that outlasts the slow one (so its outcome
 * is recorded too) and suspends the run, forcing a replay before returning.
 */
export const race = workflow('suite.race', async () => {
  const winner = await Promise.race([square(2, 80).then((v) => `slow:${v}`), square(3, 1).then((v) => `fast:${v}`)]);
  await sleep(200);
  const after = await square(4, 1);
  return { winner, after };
});

export const inspect = step('suite.inspect', async () => {
  const ctx = context() as StepContext;
  return {
    kind: ctx.kind,
    runId: ctx.runId,
    stepId: ctx.stepId,
    stepName: ctx.stepName,
    attempt: ctx.attempt,
    idempotencyKey: ctx.idempotencyKey,
    hasLogger: typeof ctx.logger.info === 'function',
    hasSignal: ctx.signal instanceof AbortSignal,
  };
});

export const contextWf = workflow('suite.context', async () => {
  const ctx = context() as WorkflowContext;
  const before = { runId: ctx.runId, now: ctx.now().getTime(), random: ctx.random(), uuid: ctx.uuid() };
  await sleep(20); // suspends: the rest runs after a replay
  const again = context() as WorkflowContext;
  const inStep = await inspect();
  return { before, after: { runId: again.runId }, inStep };
});

/** Behaviour switched by a module flag, to simulate a code change between two executions. */
export const codeVersion = { current: 1 };

export const stepA = step('suite.step-a', async () => 'a');

export const stepB = step('suite.step-b', async () => 'b');

export const changingWf = workflow('suite.changing', async () => {
  const first = codeVersion.current === 1 ? await stepA() : await stepB();
  await sleep(200);
  return first;
});

export const sleeper = workflow('suite.sleeper', async (ms: number) => {
  await sleep(ms);
  return 'woke';
});

export const plainCalls = workflow('suite.plain', async (n: number) => n + 1);

export const counted = step('suite.counted', async (label: string) => {
  bump(`${runIdOf()}:counted:${label}`);
  await new Promise((r) => setTimeout(r, 5));
  return label;
});

export const threeSteps = workflow('suite.three-steps', async () => {
  const a = await counted('a');
  const b = await counted('b');
  const c = await counted('c');
  return [a, b, c].join('');
});

export const badSleep = workflow('suite.bad-sleep', async () => {
  await sleep('soon' as never);
  return 'not reached';
});

export const tick = step('suite.tick', async (i: number) => i + 1);

/** What isReplaying() said at the top of the replay-aware workflow, asked by a query (which replays the log). */
export const replayProbe = defineQuery<boolean>('suite.replay-probe');

export const replayInStep = step('suite.replay-in-step', async () => isReplaying());

/** Side effects outside steps, guarded by isReplaying(), before and after a wait for a signal. */
export const replayAware = workflow('suite.replay-aware', async () => {
  const { runId } = workflowContext();
  const atTop = isReplaying();
  replayProbe.handle(() => atTop);
  if (!isReplaying()) bump(`${runId}:outside-before`);
  await waitForSignal('go');
  if (!isReplaying()) bump(`${runId}:outside-after`);
  return { inStep: await replayInStep() };
});

/** The workflows above that the suite's workers register. */
export const basicsWorkflows: Workflow<any[], any>[] = [onboarding, roundTrip, parallel, race, contextWf, changingWf, sleeper, plainCalls, threeSteps, badSleep, replayAware];
