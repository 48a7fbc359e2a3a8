import { expect } from 'vitest';
import type { AppendRequest, Broker, RunHandle, Storage } from '@durably/core';
import { itNeeds } from '../capabilities.js';
import { waitFor } from '../wait.js';
import type { SuiteContext } from './context.js';
import { ofType, wrapBroker } from './helpers.js';
import * as W from './workflows.js';

const SKEW_MS = 5 * 60_000;
/** The timer sweep interval of every worker: with the sweep's grace, the bound on lateness the engine promises. */
const SWEEP_MS = 1000;
const SLEEPS_MS = [2000, 2500, 3000];
/** How long the timer sweep leaves an overdue timer to its wake-up message by default (timerSweepGrace). */
const SWEEP_GRACE_MS = 2000;
/** How late a sweep may run on a loaded machine (its interval timer waits for a busy event loop). */
const SWEEP_JITTER_MS = 500;

/** A sleep event as it was durably written, with this machine's clock when its append was called. */
interface Written {
  runId: string;
  /** `sweep_claimed`: a timer sweep claimed the sleep's timer (its `calledAt` is when it asked for due timers). */
  type: 'sleep_started' | 'sleep_completed' | 'sweep_claimed';
  wakeAt?: number;
  /**
   * This process's Date.now() when the append was called. The servers under test run on this
   * machine, so this is the storage's clock: the engine decided before this moment.
   */
  calledAt: number;
}

/** The backends under test, from the running test's name ("engine conformance: postgres+postgres > ..."). */
function pairName(): string {
  const path = expect.getState().currentTestName?.split(' > ') ?? [];
  return path.find((part) => part.startsWith('engine conformance: '))?.slice('engine conformance: '.length) ?? path.join(' > ');
}

/** Records the sleep events of every append that succeeds. */
function recording(log: Written[]): (s: Storage) => Storage {
  return (inner) =>
    new Proxy(inner, {
      get(target, prop, receiver) {
        if (prop === 'append') {
          return async (request: AppendRequest) => {
            const calledAt = Date.now();
            await target.append(request);
            for (const e of request.events) {
              if (e.type === 'sleep_started') log.push({ runId: e.runId, type: e.type, wakeAt: e.data.wakeAt, calledAt });
              if (e.type === 'sleep_completed') log.push({ runId: e.runId, type: e.type, calledAt });
            }
          };
        }
        if (prop === 'claimDueTimers') {
          return async (now: number, options: { limit: number; leaseMs: number }) => {
            const calledAt = Date.now();
            const timers = await target.claimDueTimers(now, options);
            for (const t of timers) if (t.timerId.startsWith('sleep:')) log.push({ runId: t.runId, type: 'sweep_claimed', calledAt });
            return timers;
          };
        }
        const value = Reflect.get(target, prop, receiver) as unknown;
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
}

/**
 * Engine suite, clock skew: a worker whose machine clock is 5 minutes off the storage's. Its clock
 * synchronisation follows the storage's clock, so it wakes no sleep early (by the storage's clock),
 * none twice, and none later than the timer sweep would (its grace + its interval): both for sleeps that a worker with a
 * correct clock started and for sleeps it started itself. Prints the figures docs/guarantees.md records.
 */
export function clockSkewTests(suite: SuiteContext): void {
  const { client, worker, capabilities } = suite;

  /**
   * `loseWakeUps`: every delayed wake-up message is dropped and no timer is held in memory, so only
   * the timer sweep wakes runs, `graceMs` (timerSweepGrace) after they are due.
   */
  async function scenario(skewMs: number, loseWakeUps: boolean, graceMs = SWEEP_GRACE_MS): Promise<{ earliest: number; latest: number; boundMs: number; claimedLatest: number }> {
    const log: Written[] = [];
    const lossy = loseWakeUps ? (b: Broker) => wrapBroker(b, (_q, _body, options) => (options?.delayMs ?? 0) > 0) : undefined;
    const correct = await client(lossy, undefined, recording(log));
    const skewed = await client(lossy, undefined, recording(log), { clockSync: { localClock: () => Date.now() + skewMs } });
    const bounds = [correct, skewed].map((c) => c.clockSync?.last?.boundMs);
    if (bounds.some((b) => b === undefined)) throw new Error('a client did not measure the storage clock on connect (clockSync.last is unset)');
    // The larger of the two clients' measured bounds: how far either may be off the storage's clock.
    const boundMs = Math.max(...(bounds as number[]));
    // The skewed client's clock reads the storage's (this machine's) time, within the bound.
    const before = Date.now();
    const read = skewed.clock();
    const after = Date.now();
    expect(read).toBeGreaterThanOrEqual(before - Math.ceil(boundMs) - 1);
    expect(read).toBeLessThanOrEqual(after + Math.ceil(boundMs) + 1);
    const sweeps = { timerSweepInterval: `${SWEEP_MS}ms`, timerSweepGrace: `${graceMs}ms`, ...(loseWakeUps ? { localTimerWindow: 0 } : {}) };

    // Sleeps started by a worker with a correct clock, then woken by skewed workers alone.
    const runs: Array<{ handle: RunHandle<unknown>; ms: number; t0: number }> = [];
    const first = await worker(correct, sweeps);
    for (const ms of SLEEPS_MS) runs.push({ t0: Date.now(), ms, handle: await correct.start(W.sleeper, ms) });
    await waitFor(() => runs.every((r) => log.some((w) => w.runId === r.handle.runId && w.type === 'sleep_started')), 10_000);
    await first.stop(); // its local timers go to the broker, as delayed wake-ups
    // Two skewed workers (like two processes on the skewed machine): one wakes its own sleeps from
    // local timers, the other through the broker; both sweep storage for overdue timers.
    await worker(skewed, sweeps);
    await worker(skewed, { ...sweeps, localTimerWindow: 0 });
    // Sleeps the skewed workers start and wake themselves.
    for (const ms of SLEEPS_MS) runs.push({ t0: Date.now(), ms, handle: await skewed.start(W.sleeper, ms) });

    for (const r of runs) expect(await r.handle.result({ timeout: '20s' })).toBe('woke');
    // A result can be told (a NOTIFY, say) before the append that wrote it has returned to its caller.
    await waitFor(() => runs.every((r) => log.some((w) => w.runId === r.handle.runId && w.type === 'sleep_completed')), 5000);
    const lateness: number[] = [];
    const claimLateness: number[] = [];
    for (const r of runs) {
      const runId = r.handle.runId;
      const begun = log.filter((w) => w.runId === runId && w.type === 'sleep_started');
      const woke = log.filter((w) => w.runId === runId && w.type === 'sleep_completed');
      // Written once each, and the log holds one of each.
      expect(begun).toHaveLength(1);
      expect(woke).toHaveLength(1);
      const events = await correct.storage.readEvents(runId);
      expect(ofType(events, 'sleep_completed')).toHaveLength(1);
      // The wake-up time is on the storage's clock: the sleep began after the start and before its append.
      const wakeAt = begun[0].wakeAt!;
      expect(wakeAt - r.ms).toBeGreaterThanOrEqual(r.t0 - Math.ceil(boundMs) - 1);
      expect(wakeAt - r.ms).toBeLessThanOrEqual(begun[0].calledAt + Math.ceil(boundMs) + 1);
      lateness.push(woke[0].calledAt - wakeAt);
      const claimed = log.find((w) => w.runId === runId && w.type === 'sweep_claimed');
      if (claimed) claimLateness.push(claimed.calledAt - wakeAt);
      else if (loseWakeUps) throw new Error(`run ${runId} woke with its wake-up messages lost, yet no timer sweep claimed its timer`);
    }
    const earliest = Math.min(...lateness);
    const latest = Math.max(...lateness);
    // Never early by the storage's clock (beyond the measured bound of the synchronisation, rounded to whole ms).
    expect(earliest).toBeGreaterThanOrEqual(-(Math.ceil(boundMs) + 1));
    if (loseWakeUps) {
      // Woken by the sweep alone: after its grace, and claimed by a sweep within one sweep interval of
      // it (a sweep late on a busy event loop: that much more); the wake-up it sends then takes the
      // time to publish, deliver and replay, reported in the figures.
      expect(earliest).toBeGreaterThanOrEqual(graceMs - (Math.ceil(boundMs) + 1));
      expect(Math.min(...claimLateness)).toBeGreaterThanOrEqual(graceMs - (Math.ceil(boundMs) + 1));
      expect(Math.max(...claimLateness)).toBeLessThanOrEqual(graceMs + SWEEP_MS + SWEEP_JITTER_MS);
    } else {
      // Never later than the timer sweep would wake it: its grace and one interval (a sweep late on a
      // busy event loop, a broker that delays in coarser steps: that much more). Usually a wake-up
      // message or a local timer comes first, within tens of ms (the figures).
      expect(latest).toBeLessThanOrEqual(SWEEP_GRACE_MS + SWEEP_MS + SWEEP_JITTER_MS + capabilities.delayPrecisionMs);
    }
    return { earliest, latest, boundMs, claimedLatest: claimLateness.length > 0 ? Math.max(...claimLateness) : Number.NaN };
  }

  for (const [label, skewMs] of [['ahead of', SKEW_MS], ['behind', -SKEW_MS]] as const) {
    itNeeds(
      capabilities,
      'serverTime',
      `a worker whose clock is 5 minutes ${label} the storage's wakes no sleep early, none twice, none later than the timer sweep's bound`,
      async () => {
        const { earliest, latest, boundMs } = await scenario(skewMs, false);
        console.log(
          `[clock skew] ${pairName()}: worker clock 5 min ${label} the storage's: ${SLEEPS_MS.length * 2} sleeps of ${SLEEPS_MS.join('/')} ms woke ${Math.round(earliest)}..${Math.round(latest)} ms after due by the storage's clock (sweep bound: grace ${SWEEP_GRACE_MS} ms + interval ${SWEEP_MS} ms; offset measured within ±${boundMs.toFixed(1)} ms)`,
        );
      },
      30_000,
    );
  }

  itNeeds(
    capabilities,
    'serverTime',
    "a worker whose clock is 5 minutes ahead of the storage's, its wake-up messages lost, has its timer sweep fire each sleep after the grace and within one sweep interval of it, none twice",
    async () => {
      const { earliest, latest, boundMs, claimedLatest } = await scenario(SKEW_MS, true);
      console.log(
        `[clock skew] ${pairName()}: worker clock 5 min ahead of the storage's, wake-up messages lost: ${SLEEPS_MS.length * 2} sleeps woken by the timer sweep ${Math.round(earliest)}..${Math.round(latest)} ms after due, claimed at most ${Math.round(claimedLatest)} ms after due (grace ${SWEEP_GRACE_MS} ms + sweep interval ${SWEEP_MS} ms; offset measured within ±${boundMs.toFixed(1)} ms)`,
      );
    },
    30_000,
  );

  for (const [label, skewMs] of [['ahead of', SKEW_MS], ['behind', -SKEW_MS]] as const) {
    itNeeds(
      capabilities,
      'serverTime',
      `a worker whose clock is 5 minutes ${label} the storage's, its wake-up messages lost and its sweep given no grace, has its timer sweep fire each sleep within one sweep interval of its due time, none twice`,
      async () => {
        const { earliest, latest, boundMs, claimedLatest } = await scenario(skewMs, true, 0);
        console.log(
          `[clock skew] ${pairName()}: worker clock 5 min ${label} the storage's, wake-up messages lost, timerSweepGrace 0: ${SLEEPS_MS.length * 2} sleeps woken by the timer sweep ${Math.round(earliest)}..${Math.round(latest)} ms after due, claimed at most ${Math.round(claimedLatest)} ms after due (sweep interval ${SWEEP_MS} ms; offset measured within ±${boundMs.toFixed(1)} ms)`,
        );
      },
      30_000,
    );
  }
}
