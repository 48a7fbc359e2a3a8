import { expect, it } from 'vitest';
import { type Broker, type DurablyEvent } from '@durably/core';
import type { SuiteContext } from './context.js';
import { wrapBroker } from './helpers.js';
import * as W from './workflows.js';
import { waitFor } from '../wait.js';

/**
 * Engine suite, delivery and recovery: duplicated run tasks, a lost start message, and in-flight
 * work handed back when a worker stops.
 */
export function recoveryTests(suite: SuiteContext): void {
  const { client, worker, setup } = suite;

  it('hands in-flight work back on stop: another worker finishes it without waiting for a visibility timeout', async () => {
    const a = await client();
    const b = await client();
    const first = await worker(a, { visibilityTimeout: '60s', staleAfter: '60s' });
    const run = await a.start(W.handBackWf);
    await waitFor(() => W.countOf(`${run.runId}:hand-back`) === 1, 10_000);
    await worker(b, { visibilityTimeout: '60s', staleAfter: '60s' });
    const t0 = Date.now();
    await first.stop({ grace: '200ms' });
    expect(await b.getRun(run.runId).result({ timeout: '20s' })).toBe('second');
    expect(Date.now() - t0).toBeLessThan(10_000);
    const completed = (await run.events()).filter((e) => e.type === 'step_completed');
    expect(completed).toHaveLength(1);
  });

  it('records each step once when two workers race over the same runs and tasks are duplicated', async () => {
    const c1 = await client();
    const c2 = await client();
    await worker(c1);
    await worker(c2);
    const runs = await Promise.all(Array.from({ length: 20 }, () => c1.start(W.threeSteps)));
    // Duplicate every run task: both workers may pick the same run at once.
    for (const r of runs) await c2.broker.publish('durably.default', JSON.stringify({ v: 1, kind: 'run', runId: r.runId, reason: 'recover' }));
    for (const r of runs) expect(await r.result({ timeout: '30s' })).toBe('abc');
    for (const r of runs) {
      const completed = (await r.events()).filter((e) => e.type === 'step_completed') as Extract<DurablyEvent, { type: 'step_completed' }>[];
      expect(completed.map((e) => e.data.result).length).toBe(3);
      expect(new Set(completed.map((e) => e.correlationId)).size).toBe(3);
    }
  });

  it('resumes a run whose start message was lost, through the recovery sweep', async () => {
    const dropAll = (b: Broker): Broker => wrapBroker(b, () => true);
    const lossy = await client(dropAll);
    const run = await lossy.start(W.threeSteps);
    expect(await run.status()).toBe('pending');
    const { c } = await setup();
    expect(await c.getRun(run.runId).result({ timeout: '20s' })).toBe('abc');
  });
}
