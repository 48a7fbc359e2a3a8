import { expect, it } from 'vitest';
import { PayloadTooLargeError } from '@durably/core';
import type { SuiteContext } from './context.js';
import * as W from './workflows.js';
import { waitFor } from '../wait.js';

/**
 * Engine suite, limits: payload size, the event limit, retention, concurrency and rate limits.
 */
export function limitTests(suite: SuiteContext): void {
  const { client, worker, setup } = suite;

  it('enforces the payload size limit at start and at step return, with a clear error', async () => {
    const c = await client(undefined, { maxPayloadBytes: 2000 });
    await worker(c);
    const error = await c.start(W.roundTrip, 'y'.repeat(5000)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PayloadTooLargeError);
    expect((error as Error).message).toContain('limits.maxPayloadBytes');
    const run = await c.start(W.bigResult, 5000);
    expect(await run.result({ timeout: '20s' })).toEqual({ name: 'StepFailedError', cause: 'PayloadTooLargeError' });
    const failed = (await run.events()).filter((e) => e.type === 'step_failed');
    expect(failed).toHaveLength(1); // not retried
  });

  it('fails a run that reaches the event hard limit with EventLimitExceededError', async () => {
    const c = await client(undefined, { maxEvents: 30, warnEvents: 10 });
    await worker(c);
    const run = await c.start(W.manySteps, 100);
    const error = await run.result({ timeout: '20s' }).catch((e: unknown) => e);
    expect(((error as Error).cause as Error).name).toBe('EventLimitExceededError');
    const events = await run.events();
    expect(events.length).toBeLessThanOrEqual(31);
    expect(events.at(-1)!.type).toBe('run_failed');
    const fine = await c.start(W.manySteps, 5);
    expect(await fine.result({ timeout: '20s' })).toBe(5);
  });

  it('deletes finished runs older than the retention period and keeps unfinished ones', async () => {
    const { c } = await setup();
    const done = await c.start(W.plainCalls, 1);
    await done.result({ timeout: '20s' });
    const waiting = await c.start(W.sleeper, 60_000);
    await waitFor(async () => (await waiting.status()) === 'suspended', 10_000);
    await new Promise((r) => setTimeout(r, 20));
    expect(await c.deleteFinishedRuns('10ms')).toBeGreaterThanOrEqual(1);
    expect(await c.storage.getRun(done.runId)).toBeUndefined();
    expect(await waiting.status()).toBe('suspended');
  });

  it('holds runs to a per-key and a per-workflow concurrency limit under many concurrent starts', async () => {
    const c1 = await client();
    const c2 = await client();
    await worker(c1);
    await worker(c2);
    const tag = crypto.randomUUID().slice(0, 8);
    const users = ['ana', 'bob', 'cyd'];
    const runs = await Promise.all(Array.from({ length: 15 }, (_, i) => (i % 2 ? c1 : c2).start(W.perUser, users[i % 3], tag)));
    const total = await Promise.all(Array.from({ length: 8 }, () => c1.start(W.limitedTotal, `total-${tag}`)));
    for (const r of [...runs, ...total]) await r.result({ timeout: '30s' });
    for (const u of users) expect(W.inFlight.get(`${tag}:${u}`)!.max).toBe(1);
    expect(W.inFlight.get(`total-${tag}`)!.max).toBeLessThanOrEqual(2);
    expect(W.inFlight.get(`total-${tag}`)!.max).toBeGreaterThanOrEqual(1);
  });

  it('spaces the attempts of a rate-limited step across windows', async () => {
    const { c } = await setup();
    const tag = crypto.randomUUID().slice(0, 8);
    const run = await c.start(W.rateWf, tag, 12);
    expect(await run.result({ timeout: '30s' })).toBe(12);
    const starts = W.rateStarts.get(tag)!.sort((a, b) => a - b);
    expect(starts).toHaveLength(12);
    // 12 permits at 5 per 500 ms window need three windows: a whole window lies between the first and
    // the last grant (the bodies' own timestamps may lag their grants by a round trip, hence 400).
    expect(starts.at(-1)! - starts[0]).toBeGreaterThan(400);
  });
}
