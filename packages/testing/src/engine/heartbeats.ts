import { expect, it } from 'vitest';
import { createLogger, deserialize, type Storage } from '@durably/core';
import { itNeeds } from '../capabilities.js';
import type { SuiteContext } from './context.js';
import { ofType } from './helpers.js';
import { killable } from './leases.js';
import * as W from './workflows.js';
import * as H from './heartbeats-workflows.js';
import { waitFor } from '../wait.js';

/** Counts the writes of heartbeat details (checkpoints under `heartbeat:<position>`). */
function countingHeartbeatWrites(counter: { puts: number }) {
  return (inner: Storage): Storage =>
    new Proxy(inner, {
      get(t, prop, receiver) {
        const value = Reflect.get(t, prop, receiver) as unknown;
        if (prop === 'putCheckpoint') {
          return (runId: string, stepId: string, raw: string) => {
            if (stepId.startsWith('heartbeat:')) counter.puts++;
            return t.putCheckpoint(runId, stepId, raw);
          };
        }
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(t) : value;
      },
    });
}

/** Lost workers come back through their lapsed lease (a few seconds; 12 s more on SQS). */
const LOSS_TEST_TIMEOUT_MS = 90_000;

/**
 * Heartbeats and step time limits: heartbeat details reach the attempt after a lost worker or a
 * failure, heartbeatTimeout retries a hung attempt, totalTimeout bounds all attempts together, and
 * `retries: Infinity` keeps retrying with its delay capped.
 */
export function heartbeatTests(suite: SuiteContext): void {
  const workflows = [...W.allWorkflows, ...H.heartbeatsWorkflows];
  const quiet = createLogger('silent');

  itNeeds(suite.capabilities, 'workerLossRecovery', 'gives the attempt after a lost worker the last heartbeat details, written at most once a second', async () => {
    const doomed = killable();
    const writes = { puts: 0 };
    const count = countingHeartbeatWrites(writes);
    const a = await suite.client(doomed.broker, undefined, (s) => doomed.storage(count(s)));
    await suite.worker(a, { workflows, visibilityTimeout: '60s', staleAfter: '60s', stepLease: '1s', logger: quiet });
    const run = await a.start(H.progress);
    // 50 heartbeats in a burst: the first details at once, the latest a second later.
    let stepId = '';
    await waitFor(async () => {
      stepId ||= ofType(await a.getRun(run.runId).events(), 'step_started')[0]?.correlationId ?? '';
      const raw = stepId ? await a.storage.getCheckpoint(run.runId, `heartbeat:${stepId}`) : undefined;
      return raw !== undefined && (deserialize(raw) as { done: number }).done === 50;
    }, 10_000);
    expect(writes.puts).toBeLessThanOrEqual(3);
    await doomed.kill();
    const b = await suite.client();
    await suite.worker(b, { workflows, visibilityTimeout: '60s', staleAfter: '60s', stepLease: '1s' });
    const result = await b.getRun(run.runId).result({ timeout: '40s' });
    for (const release of H.hung.get(run.runId) ?? []) release();
    // The same attempt (a lost worker is not a failure), resumed from the last details.
    expect(result).toEqual({ resumedFrom: { done: 50 }, attempt: 1 });
    expect(H.detailsSeen.get(run.runId)).toEqual([undefined, { done: 50 }]);
    expect(ofType(await b.getRun(run.runId).events(), 'run_interrupted')).toHaveLength(1);
    // The step completed: its details are deleted.
    await waitFor(async () => (await b.storage.getCheckpoint(run.runId, `heartbeat:${stepId}`)) === undefined, 5_000);
  }, LOSS_TEST_TIMEOUT_MS);

  // Inline steps, and steps dispatched through the broker (the policy then travels in the step's task).
  for (const stepMode of ['inline', 'dispatch'] as const) {
    it(`retries a hung step after its heartbeatTimeout, not its whole timeout, and the retry gets the last details (${stepMode} steps)`, async () => {
      const { c } = await suite.setup({ workflows, stepMode });
      const t0 = Date.now();
      const run = await c.start(H.hungWf);
      expect(await run.result({ timeout: '30s' })).toBe('ok');
      // heartbeatTimeout 400 ms, timeout 60 s.
      expect(Date.now() - t0).toBeLessThan(20_000);
      const failed = ofType(await run.events(), 'step_failed');
      expect(failed).toHaveLength(1);
      expect(failed[0].data.error.name).toBe('StepHeartbeatTimeoutError');
      expect(failed[0].data.retryAt).toBeDefined();
      expect(H.detailsSeen.get(run.runId)).toEqual([undefined, 'started']);
      // The hung attempt's signal was aborted.
      await waitFor(() => W.countOf(`${run.runId}:hung-aborted:true`) === 1, 5_000);
    });

    it(`lets a step that heartbeats more often than its heartbeatTimeout run to the end (${stepMode} steps)`, async () => {
      const { c } = await suite.setup({ workflows, stepMode });
      const run = await c.start(H.beating);
      expect(await run.result({ timeout: '30s' })).toBe(1);
      expect(ofType(await run.events(), 'step_failed')).toHaveLength(0);
    });

    it(`fails a step whose retries pass its totalTimeout, however many retries are left (${stepMode} steps)`, async () => {
      const { c } = await suite.setup({ workflows, stepMode });
      const run = await c.start(H.doomed);
      const err = (await run.result({ timeout: '30s' }).catch((e: unknown) => e)) as Error;
      expect((err.cause as Error).name).toBe('StepFailedError');
      const events = await run.events();
      const starts = ofType(events, 'step_started');
      const failed = ofType(events, 'step_failed');
      expect(starts.length).toBeGreaterThanOrEqual(2);
      expect(failed).toHaveLength(starts.length);
      // No retry is set for after the deadline (1.2 s after the first start); the last failure has none.
      for (const f of failed.slice(0, -1)) expect(f.data.retryAt).toBeLessThan(starts[0].at + 1200);
      expect(failed[failed.length - 1].data.retryAt).toBeUndefined();
      // Each attempt ran its body, but one that starts past the deadline (a retry due just before it, on a slow backend): that one is not run.
      const ran = failed.filter((f) => f.data.error.message === 'still down');
      expect(W.countOf(`${run.runId}:doomed`)).toBe(ran.length);
      for (const f of failed.filter((f) => f.data.error.message !== 'still down')) expect(f.data.error.message).toContain('totalTimeout');
      expect(ran.length).toBeGreaterThanOrEqual(failed.length - 1);
    });

    it(`cuts an attempt that runs past its totalTimeout and does not retry it (${stepMode} steps)`, async () => {
      const { c } = await suite.setup({ workflows, stepMode });
      const run = await c.start(H.cut);
      const err = (await run.result({ timeout: '30s' }).catch((e: unknown) => e)) as Error;
      for (const release of H.hung.get(run.runId) ?? []) release();
      const cause = (err.cause as Error & { cause?: Error }).cause!;
      expect(cause.name).toBe('StepTimeoutError');
      expect(cause.message).toContain('totalTimeout');
      const failed = ofType(await run.events(), 'step_failed');
      expect(failed).toHaveLength(1);
      expect(failed[0].data.retryAt).toBeUndefined();
    });

    it(`keeps retrying with retries: Infinity, each delay capped by backoff.max (${stepMode} steps)`, async () => {
      const { c } = await suite.setup({ workflows, stepMode });
      const run = await c.start(H.persistent);
      expect(await run.result({ timeout: '30s' })).toBe(7);
      const events = await run.events();
      expect(ofType(events, 'step_scheduled')).toHaveLength(stepMode === 'dispatch' ? 1 : 0);
      const failed = ofType(events, 'step_failed');
      expect(failed.map((f) => f.data.attempt)).toEqual([1, 2, 3, 4, 5, 6]);
      // initial 20 ms, factor 10, max 100 ms, no jitter.
      expect(failed.map((f) => f.data.retryAt! - f.at)).toEqual([20, 100, 100, 100, 100, 100]);
    });
  }
}
