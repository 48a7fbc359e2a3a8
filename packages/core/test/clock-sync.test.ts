import { describe, expect, it } from 'vitest';
import { Client, MemoryBroker, MemoryStorage, StorageError, type Logger } from '@durably/core';
import { ClockSync, estimateOffset, type ClockSample } from '../src/runtime/client/clock-sync.js';

function recordingLogger(): Logger & { warnings: Array<{ message: string; fields?: Record<string, unknown> }> } {
  const warnings: Array<{ message: string; fields?: Record<string, unknown> }> = [];
  const logger = {
    warnings,
    debug: () => undefined,
    info: () => undefined,
    warn: (message: string, fields?: Record<string, unknown>) => void warnings.push({ message, fields }),
    error: () => undefined,
    child: () => logger,
  };
  return logger as unknown as Logger & { warnings: typeof warnings };
}

/** A server whose clock is `offset` ms from the local one, answering `delayBefore` ms after the request was sent and `delayAfter` ms before it arrives. */
function simulated(local: { t: number }, offset: number, legs: Array<[number, number]>) {
  let i = 0;
  return async () => {
    const [before, after] = legs[i++ % legs.length];
    local.t += before;
    const reading = local.t + offset;
    local.t += after;
    return reading;
  };
}

describe('estimateOffset', () => {
  it('takes the sample with the shortest round trip, and bounds its error by half that round trip', () => {
    const samples: ClockSample[] = [
      { sentAt: 1000, serverTime: 6030, receivedAt: 1100 }, // round trip 100: midpoint 1050 → offset 4980
      { sentAt: 2000, serverTime: 7004, receivedAt: 2010 }, // round trip 10: midpoint 2005 → offset 4999
      { sentAt: 3000, serverTime: 8040, receivedAt: 3050 },
    ];
    expect(estimateOffset(samples)).toEqual({ offsetMs: 4999, boundMs: 5, roundTripMs: 10 });
    expect(estimateOffset(samples, 1).boundMs).toBe(6);
  });

  it('is never further from the true offset than its bound, wherever in the round trip the server read its clock', () => {
    const trueOffset = -300_000;
    for (const [before, after] of [[0, 40], [40, 0], [7, 33], [20, 20], [1, 1]] as const) {
      const sentAt = 50_000;
      const sample = { sentAt, serverTime: sentAt + before + trueOffset, receivedAt: sentAt + before + after };
      const est = estimateOffset([sample]);
      expect(Math.abs(est.offsetMs - trueOffset)).toBeLessThanOrEqual(est.boundMs);
      expect(est.boundMs).toBe((before + after) / 2);
    }
  });

  it('ignores unusable readings and names the problem when none is left', () => {
    expect(estimateOffset([{ sentAt: 10, serverTime: Number.NaN, receivedAt: 12 }, { sentAt: 10, serverTime: 100, receivedAt: 14 }]).offsetMs).toBe(88);
    expect(() => estimateOffset([{ sentAt: 10, serverTime: Number.NaN, receivedAt: 12 }])).toThrow(StorageError);
    expect(() => estimateOffset([])).toThrow(/serverTime\(\) must return epoch milliseconds/);
  });
});

describe('ClockSync', () => {
  it('corrects a machine clock 5 minutes ahead to the storage clock, within the bound of its best sample, and warns naming the offset', async () => {
    const local = { t: 1_000_000 };
    const mono = { t: 0 };
    const logger = recordingLogger();
    const sync = new ClockSync(logger, { localClock: () => local.t, samples: 3 }, () => mono.t);
    const skew = 5 * 60_000;
    // The server is 5 minutes behind this machine; round trips of 30, 4 and 12 ms.
    const read = simulated(local, -skew, [[20, 10], [1, 3], [6, 6]]);
    await sync.start(read);
    sync.stop();
    expect(sync.last).toEqual({ offsetMs: -skew - 1, boundMs: 3, roundTripMs: 4 }); // half the round trip + 1 ms of clock resolution
    const serverNow = local.t - skew;
    expect(Math.abs(sync.now() - serverNow)).toBeLessThanOrEqual(3);
    expect(logger.warnings).toHaveLength(1);
    expect(logger.warnings[0].message).toMatch(/this machine's clock is 300001 ms ahead of the storage's/);
    expect(logger.warnings[0].fields).toMatchObject({ offsetMs: -300_001, warnAboveMs: 1000 });
  });

  it('keeps the offset in force when a new measurement agrees within its bound, and warns no more for the same offset', async () => {
    const local = { t: 0 };
    const logger = recordingLogger();
    const sync = new ClockSync(logger, { localClock: () => local.t, samples: 1 }, () => local.t);
    await sync.start(simulated(local, 5000, [[2, 2]]));
    sync.stop();
    const first = sync.now() - local.t;
    await sync.measure();
    expect(sync.now() - local.t).toBe(first);
    expect(logger.warnings).toHaveLength(1);
    expect(logger.warnings[0].message).toMatch(/5000 ms behind/);
  });

  it('answers the earlier of the wall and monotonic estimates when the machine clock is stepped forward, and measures again at once', async () => {
    const local = { t: 10_000 };
    const mono = { t: 500 };
    const logger = recordingLogger();
    let reads = 0;
    const sync = new ClockSync(logger, { localClock: () => local.t, samples: 1 }, () => mono.t);
    await sync.start(async () => {
      reads++;
      return mono.t + 9_500; // the storage's clock moves with the monotonic one
    });
    sync.stop();
    expect(sync.now()).toBe(10_000);
    // An operator (or NTP) steps the wall clock 5 minutes forward; 100 ms pass.
    local.t += 300_000 + 100;
    mono.t += 100;
    expect(sync.now()).toBe(10_100);
    expect(reads).toBe(2); // the step set off a measurement
    await sync.measure(); // the one under way
    expect(reads).toBe(2);
    expect(sync.now()).toBe(10_100);
    expect(logger.warnings.at(-1)!.message).toMatch(/300000 ms ahead/);
  });

  it('keeps its last offset when the storage cannot be read, warning once', async () => {
    const local = { t: 0 };
    const logger = recordingLogger();
    let fail = false;
    const sync = new ClockSync(logger, { localClock: () => local.t, samples: 1, warnAbove: '1h' }, () => local.t);
    await sync.start(async () => {
      if (fail) throw new StorageError('connection refused');
      return local.t + 700;
    });
    sync.stop();
    fail = true;
    expect(await sync.measure()).toBeUndefined();
    expect(await sync.measure()).toBeUndefined();
    expect(sync.now() - local.t).toBe(700);
    expect(logger.warnings.map((w) => w.message)).toEqual(['could not read the storage clock; the engine keeps its last clock offset']);
  });

  it('is the local clock when the storage has no clock of its own', async () => {
    const sync = new ClockSync(recordingLogger(), { localClock: () => 42 });
    await sync.start(undefined);
    expect(sync.now()).toBe(42);
    expect(await sync.measure()).toBeUndefined();
  });
});

describe('Client clock', () => {
  it('follows the storage clock once ready; a clock option is taken as it is; clockSync: false runs on the machine clock', async () => {
    const skewed = () => Date.now() + 300_000;
    const synced = new Client({ storage: new MemoryStorage(), broker: new MemoryBroker(), clockSync: { localClock: skewed }, logger: recordingLogger() });
    await synced.ensureReady();
    expect(Math.abs(synced.clock() - Date.now())).toBeLessThan(50);
    expect(synced.clockSync!.last!.offsetMs).toBeLessThan(-299_900);
    await synced.close();

    const virtual = new Client({ storage: new MemoryStorage(), broker: new MemoryBroker(), clock: () => 1234 });
    await virtual.ensureReady();
    expect(virtual.clock()).toBe(1234);
    expect(virtual.clockSync).toBeUndefined();
    await virtual.close();

    const off = new Client({ storage: new MemoryStorage(), broker: new MemoryBroker(), clockSync: false });
    expect(off.clockSync).toBeUndefined();
    expect(off.clock).toBe(Date.now);
  });
});
