/**
 * Workflows of the engine suite's cancellation-scope tests: cancellable() around a running step,
 * timers, waits, hooks and a child; nested scopes and shield(); withTimeout(); cancelRequested().
 */
import {
  cancellable,
  cancelRequested,
  condition,
  defineHook,
  defineQuery,
  shield,
  sleep,
  startChild,
  step,
  stepContext,
  waitForSignal,
  withTimeout,
  workflow,
  ScopeCancelledError,
  type Workflow,
} from '@durably/core';
import { sleeper } from './basics-workflows.js';
import { bump } from './effects.js';

/** Waits for its abort signal (20 s at most), counting per run `<label>:started` and `<label>:aborted`. */
async function waitForAbort(label: string): Promise<string> {
  const ctx = stepContext();
  bump(`${ctx.runId}:${label}:started`);
  if (!ctx.signal.aborted) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 20_000);
      ctx.signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
    });
  }
  if (ctx.signal.aborted) bump(`${ctx.runId}:${label}:aborted`);
  return `${label} finished`;
}

export const untilAborted = step('scopes.until-aborted', waitForAbort);

/** The same on its own queue: only a worker listening on "scopes-remote" runs it. */
export const remoteUntilAborted = step('scopes.remote-until-aborted', waitForAbort, { queue: 'scopes-remote' });

/** Counts `<label>` per run and returns it; takes `ms` first. */
export const quick = step('scopes.quick', async (label: string, ms?: number) => {
  if (ms) await new Promise((resolve) => setTimeout(resolve, ms));
  bump(`${stepContext().runId}:${label}`);
  return label;
});

function described(err: unknown): { name: string; message: string; scope: boolean } {
  const e = err as Error;
  return { name: e.name, message: e.message, scope: err instanceof ScopeCancelledError };
}

/** A scope around a running step, cancelled by the workflow 300 ms later; the run goes on with another step. */
export const cancelStep = workflow('scopes.cancel-step', async () => {
  const work = cancellable(() => untilAborted('work'));
  await sleep('300ms');
  const first = work.cancel('not needed');
  const again = work.cancel();
  const outcome = await work.then((value) => ({ value }), described);
  return { first, again, outcome, after: await quick('after') };
});

/** A scope around a dispatched step (on its own queue when `remote`), cancelled on signal "cancel". */
export const cancelRemote = workflow('scopes.cancel-remote', async (remote: boolean) => {
  const work = cancellable(() => (remote ? remoteUntilAborted('remote') : untilAborted('remote')));
  await waitForSignal('cancel');
  work.cancel('remote not needed');
  return work.then((value) => ({ value }), described);
});

export const gate = defineHook<string>('scopes.gate');
export const gateToken = defineQuery<string>('scopes.gate-token');

/**
 * A scope around a sleep, a signal wait, a hook and a condition (each with a timer), cancelled
 * 300 ms later; then the run waits for signal "finish", so the test can look at its timers and hook.
 */
export const cancelWaits = workflow('scopes.cancel-waits', async () => {
  let token = '';
  gateToken.handle(() => token);
  const work = cancellable(() => {
    const hook = gate.create({ timeout: '1h' });
    token = hook.token;
    return Promise.allSettled([sleep('1h'), waitForSignal('never', { timeout: '1h' }), hook, condition(() => false, { timeout: '1h' })]);
  });
  await sleep('300ms');
  work.cancel('enough waiting');
  const settled = await work;
  await waitForSignal('finish');
  return settled.map((s) => (s.status === 'rejected' ? described(s.reason).name : 'resolved'));
});

/** A child started in a scope, awaited there, cancelled with it; the parent waits for signal "finish". */
export const cancelChild = workflow('scopes.cancel-child', async () => {
  const work = cancellable(async () => (await startChild(sleeper, 60_000)).result());
  await sleep('500ms');
  work.cancel('child not needed');
  const outcome = await work.then((value) => ({ value }), described);
  await waitForSignal('finish');
  return outcome;
});

/**
 * Nested scopes: an inner scope cancelled alone; then the outer one cancelled while an inner scope
 * sleeps, a sleep of its own waits, and a shielded step runs (it completes).
 */
export const nested = workflow('scopes.nested', async () => {
  const outer = cancellable(async () => {
    const innerOnly = cancellable(() => sleep('1h'));
    innerOnly.cancel('just this one');
    const alone = await innerOnly.then(() => 'slept', (e: unknown) => described(e).name);
    const inner = cancellable(() => sleep('1h'));
    const settled = await Promise.allSettled([inner, shield(() => quick('shielded', 600)), sleep('1h')]);
    return { alone, settled: settled.map((s) => (s.status === 'fulfilled' ? s.value : described(s.reason).name)), innerAgain: inner.cancel() };
  });
  await sleep('300ms');
  const cancelled = outer.cancel('outer done');
  return { cancelled, ...(await outer) };
});

/** withTimeout over several steps, the last of which outlasts it; the run goes on. */
export const timeoutFires = workflow('scopes.timeout-fires', async () => {
  try {
    await withTimeout('1s', async () => {
      await quick('first');
      await quick('second');
      return untilAborted('slow');
    });
    return { timedOut: false };
  } catch (err) {
    const e = err as Error;
    return { name: e.name, message: e.message, cause: (e.cause as Error | undefined)?.name, after: await quick('after') };
  }
});

/** withTimeout whose work finishes first: its timer is cancelled; the run then waits for signal "finish". */
export const timeoutClears = workflow('scopes.timeout-clears', async () => {
  const value = await withTimeout('1h', () => quick('fast'));
  await waitForSignal('finish');
  return value;
});

/**
 * A shielded workflow that notices its run's cancellation with cancelRequested(), cancels the scope
 * of its work and records a cleanup step with the reason.
 */
export const graceful = workflow('scopes.graceful', async () =>
  shield(async () => {
    const work = cancellable(() => waitForSignal('never'));
    const { reason } = await cancelRequested();
    work.cancel('the run is cancelled');
    const outcome = await work.then(() => 'signalled', (e: unknown) => described(e).name);
    return { outcome, cleaned: await quick(`cleanup:${reason}`) };
  }),
);

/**
 * Scopes cancelled (one by cancel(), one by withTimeout) before the run suspends on signal
 * "resume": the test resumes it on a fresh worker, which replays the cancellations.
 */
export const resumable = workflow('scopes.resumable', async () => {
  const work = cancellable(async () => {
    await quick('in-scope');
    await sleep('1h');
    return quick('never');
  });
  const timed = withTimeout('300ms', () => sleep('1h')).then(() => 'slept', (e: unknown) => (e as Error).name);
  await sleep('500ms');
  work.cancel('replay me');
  const outcome = await work.then((value) => value, (e: unknown) => described(e).name);
  const timeout = await timed;
  await waitForSignal('resume');
  return { outcome, timeout, after: await quick('after') };
});

/** Which code `changingCancel` runs: 1 cancels its scope, 2 (a changed deployment) does not. */
export const cancelVersion = { current: 1 };

/** Cancels its scope in version 1 only, then sleeps: a replay with version 2 finds a cancellation its code does not make. */
export const changingCancel = workflow('scopes.changing-cancel', async () => {
  const work = cancellable(() => sleep('1h'));
  await sleep('100ms');
  if (cancelVersion.current === 1) work.cancel('version 1 cancels');
  await sleep('2s');
  return 'done';
});

/** The workflows above that the scope tests' workers register (with the suite's). */
export const scopesWorkflows: Workflow<any[], any>[] = [cancelStep, cancelWaits, cancelChild, nested, timeoutFires, timeoutClears, graceful, resumable, changingCancel, cancelRemote];
