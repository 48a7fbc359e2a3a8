/**
 * Workflows of the engine suite's tests of heartbeats and step time limits: heartbeat details that
 * reach the next attempt, heartbeatTimeout, totalTimeout and unlimited retries.
 */
import { step, stepContext, workflow, type Workflow } from '@durably/core';
import { bump } from './effects.js';

/** What each execution of a step saw in `heartbeatDetails`, per run, in order. */
export const detailsSeen = new Map<string, unknown[]>();
/** Releases the executions that hang (their worker "dies" meanwhile, or they are taken for hung). */
export const hung = new Map<string, Array<() => void>>();

function hang(runId: string, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    hung.set(runId, [...(hung.get(runId) ?? []), resolve]);
    signal?.addEventListener('abort', () => resolve(), { once: true });
  });
}

/**
 * First execution: 50 heartbeats with progress, then it hangs (its worker dies). The next
 * execution returns the details it was given.
 */
export const progressStep = step('hb.progress', async () => {
  const ctx = stepContext();
  detailsSeen.set(ctx.runId, [...(detailsSeen.get(ctx.runId) ?? []), ctx.heartbeatDetails]);
  if (bump(`${ctx.runId}:progress`) === 1) {
    for (let done = 1; done <= 50; done++) ctx.heartbeat({ done });
    await hang(ctx.runId);
  }
  return { resumedFrom: ctx.heartbeatDetails, attempt: ctx.attempt };
});
export const progress = workflow('hb.progress', async () => progressStep());

/** First execution: one heartbeat, then it hangs with no more heartbeats; the retry succeeds. */
export const hungStep = step('hb.hung', async () => {
  const ctx = stepContext();
  detailsSeen.set(ctx.runId, [...(detailsSeen.get(ctx.runId) ?? []), ctx.heartbeatDetails]);
  if (bump(`${ctx.runId}:hung`) === 1) {
    ctx.heartbeat('started');
    await hang(ctx.runId, ctx.signal);
    bump(`${ctx.runId}:hung-aborted:${ctx.signal.aborted}`);
    return 'late';
  }
  return 'ok';
}, { heartbeatTimeout: '400ms', timeout: '60s', retries: 2, backoff: { initial: '10ms', jitter: false } });
export const hungWf = workflow('hb.hung', async () => hungStep());

/** Heartbeats every 100 ms for a second: a 400 ms heartbeatTimeout never fires. */
export const beatingStep = step('hb.beating', async () => {
  const ctx = stepContext();
  bump(`${ctx.runId}:beating`);
  for (let i = 0; i < 10; i++) {
    await new Promise((r) => setTimeout(r, 100));
    ctx.heartbeat();
  }
  return ctx.attempt;
}, { heartbeatTimeout: '400ms' });
export const beating = workflow('hb.beating', async () => beatingStep());

/** Fails every attempt; unlimited retries, bounded by a 1.2 s totalTimeout. */
export const doomedStep = step('hb.doomed', async () => {
  bump(`${stepContext().runId}:doomed`);
  throw new Error('still down');
}, { retries: Infinity, totalTimeout: '1200ms', backoff: { initial: '100ms', factor: 1, jitter: false } });
export const doomed = workflow('hb.doomed', async () => doomedStep());

/** Hangs on its first attempt: the 500 ms totalTimeout cuts it, and no retry follows. */
export const cutStep = step('hb.cut', async () => {
  const ctx = stepContext();
  bump(`${ctx.runId}:cut`);
  await hang(ctx.runId, ctx.signal);
  return 'late';
}, { retries: 5, totalTimeout: '500ms', backoff: { initial: '10ms' } });
export const cut = workflow('hb.cut', async () => cutStep());

/** Fails its first 6 attempts: retries: Infinity keeps going, each delay capped at 100 ms. */
export const persistentStep = step('hb.persistent', async () => {
  const ctx = stepContext();
  if (bump(`${ctx.runId}:persistent`) <= 6) throw new Error(`attempt ${ctx.attempt} failed`);
  return ctx.attempt;
}, { retries: Infinity, backoff: { initial: '20ms', factor: 10, max: '100ms', jitter: false } });
export const persistent = workflow('hb.persistent', async () => persistentStep());

/** The workflows above that the suite's workers register. */
export const heartbeatsWorkflows: Workflow<any[], any>[] = [progress, hungWf, beating, doomed, cut, persistent];
