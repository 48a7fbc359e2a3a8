/**
 * Workflows of the engine suite's tests of step attempts: leases, duplicates, lost workers, and
 * timers that fire while inline steps run. Body executions are counted with `bump` (effects.ts).
 */
import { context, defineHook, sleep, step, waitForSignal, workflow, type StepContext } from '@durably/core';
import { bump } from './effects.js';

/** Every body execution of this module's steps, over all runs (the duplicate test counts them all). */
export const executions = { total: 0 };

/** Five sequential steps; each execution is counted per run and step. */
export const fiveStep = step('lease.five-step', async (i: number) => {
  executions.total++;
  bump(`${(context() as StepContext).runId}:five:${i}`);
  return i;
});
export const fiveSteps = workflow('lease.five-steps', async () => {
  let sum = 0;
  for (let i = 0; i < 5; i++) sum += await fiveStep(i);
  return sum;
});

/** Works for `ms`, or until its signal fires (the run ended or was cancelled). */
export const slowWork = step('lease.slow-work', async (ms: number) => {
  const ctx = context() as StepContext;
  bump(`${ctx.runId}:slow-work`);
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    ctx.signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
  return `worked ${ms} ms`;
});
export const longStep = workflow('lease.long-step', async (ms: number) => slowWork(ms));

/** A sleep races an 800 ms inline step; the step's outcome is awaited afterwards, so it is recorded too. */
export const raceSleep = workflow('lease.race-sleep', async () => {
  const work = slowWork(800);
  const first = await Promise.race([work.then(() => 'step'), sleep(150).then(() => 'sleep')]);
  const late = await work;
  return { first, late };
});

export const never = defineHook<string>('lease.never');
/** A hook's timeout and a signal wait's timeout race running inline steps. */
export const raceTimeouts = workflow('lease.race-timeouts', async () => {
  const names: string[] = [];
  const caught = (e: unknown) => (e as Error).name;
  names.push(await Promise.race([slowWork(800), never.create({ timeout: 150 })]).catch(caught));
  names.push(await Promise.race([slowWork(800), waitForSignal('lease.never', { timeout: 150 })]).catch(caught) as string);
  return names;
});

/** maxDuration passes while an inline step runs. */
export const deadlineMidStep = workflow('lease.deadline', async () => slowWork(5000), { maxDuration: '300ms' });

export const remind = step('lease.remind', async (n: number) => n);
/** The reminder pattern: while long work runs, a reminder goes out every 150 ms. */
export const reminders = workflow('lease.reminders', async () => {
  let done = false;
  const work = slowWork(900).then(() => (done = true));
  let sent = 0;
  while (!done) {
    const tick = await Promise.race([work.then(() => false), sleep(150).then(() => true)]);
    if (tick && !done) await remind(++sent);
  }
  return sent;
});

/** Hangs on each of its first `hangs` executions until released (its worker "dies" meanwhile). */
export const hangers = new Map<string, Array<() => void>>();
export const hangingStep = step('lease.hanging', async (hangs: number) => {
  const ctx = context() as StepContext;
  if (bump(`${ctx.runId}:hanging`) <= hangs) await new Promise<void>((resolve) => hangers.set(ctx.runId, [...(hangers.get(ctx.runId) ?? []), resolve]));
  return 'done';
});
/** Its first step kills every worker that runs it, twice: one recovery is allowed. */
export const crashLooping = workflow('lease.crash-looping', async () => hangingStep(2), { maxRecoveryAttempts: 1 });

/** Kills a test's worker "process" as the first step's body of the run tagged so ends (see dispatch-outcomes.ts), once. */
export const killAtEnd = new Map<string, () => Promise<void>>();
export const chainStep = step('lease.chain-step', async (tag: string, i: number) => {
  bump(`${tag}:chain:${i}`);
  const kill = i === 0 ? killAtEnd.get(tag) : undefined;
  killAtEnd.delete(tag);
  await kill?.();
  return i;
});
/** Three sequential steps (dispatched in the tests that use it): 0 + 1 + 2. */
export const chain = workflow('lease.chain', async (tag: string) => {
  let sum = 0;
  for (let i = 0; i < 3; i++) sum += await chainStep(tag, i);
  return sum;
});

export const leaseWorkflows = [fiveSteps, longStep, raceSleep, raceTimeouts, deadlineMidStep, reminders, crashLooping, chain];
