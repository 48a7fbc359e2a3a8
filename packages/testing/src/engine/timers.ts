import { expect, it } from 'vitest';
import type { Broker } from '@durably/core';
import type { SuiteContext } from './context.js';
import { wrapBroker } from './helpers.js';
import * as W from './workflows.js';
import { waitFor } from '../wait.js';

/**
 * Engine suite, timers and sleep: delayed starts, wake-ups lost or handed back, and maxDuration.
 */
export function timerTests(suite: SuiteContext): void {
  const { client, worker, setup } = suite;

  it('delays a start with `delay`', async () => {
    const { c } = await setup();
    const t0 = Date.now();
    const run = await c.startWith(W.plainCalls, [1], { delay: '400ms' });
    expect(await run.status()).toBe('pending');
    expect(await run.result({ timeout: '20s' })).toBe(2);
    const events = await run.events();
    expect(events.find((e) => e.type === 'run_started')!.at - t0).toBeGreaterThanOrEqual(380);
  });

  it('enforces maxDuration, also while the run is suspended', async () => {
    const { c } = await setup();
    const run = await c.start(W.timedWf);
    const error = await run.result({ timeout: '20s' }).catch((e: unknown) => e);
    expect(((error as Error).cause as Error).name).toBe('WorkflowTimeoutError');
    const events = await run.events();
    expect(events.at(-1)!.at - events[0].at).toBeGreaterThanOrEqual(390);
    expect(await c.storage.listTimers(run.runId)).toEqual([]);
  });

  it('wakes a sleeping run from the timer in storage when its wake-up message is lost', async () => {
    const dropDelayed = (b: Broker): Broker => wrapBroker(b, (_q, _body, options) => (options?.delayMs ?? 0) > 0);
    const c = await client(dropDelayed);
    // No local fast path: the wake-up goes through the (lossy) broker.
    await worker(c, { localTimerWindow: 0 });
    const run = await c.start(W.sleeper, 100);
    expect(await run.result({ timeout: '20s' })).toBe('woke');
  });

  it('fires a wake-up due beyond the window on time though the broker delays it late: it is sent a window ahead and held', async () => {
    // Every delayed message arrives 1 s later than asked (a broker lagging under a burst, say).
    const lagMs = 1000;
    const c = await client((b) => wrapBroker(b, () => false, (o) => (o?.delayMs ? { ...o, delayMs: o.delayMs + lagMs } : o)));
    // The writer holds nothing due past 3 s, and no sweep steps in: only the broker's message wakes it.
    await worker(c, { localTimerWindow: '3s', timerSweepInterval: '1h' });
    const run = await c.start(W.sleeper, 4000);
    expect(await run.result({ timeout: '20s' })).toBe('woke');
    const events = await run.events();
    const started = events.find((e) => e.type === 'sleep_started') as { data: { wakeAt: number } };
    const woke = events.find((e) => e.type === 'sleep_completed')!;
    // Sent to arrive 3 s early, it came 2 s early (1 s less with a coarse broker) and waited here.
    expect(woke.at).toBeGreaterThanOrEqual(started.data.wakeAt);
    expect(woke.at - started.data.wakeAt).toBeLessThan(lagMs / 2);
  });

  it('fires a short timer in the worker that wrote it, and a stopping worker hands its timers to the broker', async () => {
    const c = await client();
    const first = await worker(c);
    const quick = await c.start(W.sleeper, 50);
    expect(await quick.result({ timeout: '20s' })).toBe('woke');
    const run = await c.start(W.sleeper, 700);
    await waitFor(async () => (await run.status()) === 'suspended', 10_000);
    await first.stop();
    // The second worker never sweeps storage for timers: only the handed-back message can wake the run.
    await worker(c, { timerSweepInterval: '1h' });
    expect(await run.result({ timeout: '20s' })).toBe('woke');
    const events = await run.events();
    const started = events.find((e) => e.type === 'sleep_started') as { data: { wakeAt: number } };
    const woke = events.find((e) => e.type === 'sleep_completed')!;
    // The handed-back message is a delayed one: a broker that delays in coarser steps may be that much later.
    expect(woke.at - started.data.wakeAt).toBeLessThan(1500 + suite.capabilities.delayPrecisionMs);
  });
}
