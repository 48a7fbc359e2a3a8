import { randomUUID } from 'node:crypto';
import { expect, it } from 'vitest';
import type { ScheduleRecord } from '@durably/core';
import type { StorageSuiteContext } from './context.js';

/**
 * Storage suite, coordination between clients: concurrency slots, rate permits, and schedules
 * written with version checks.
 */
export function coordinationTests(suite: StorageSuiteContext): void {
  const { connect, newRun } = suite;

  it('grants at most `limit` concurrency slots per key across clients, idempotently, and frees them with the final append', async () => {
    const a = await connect();
    const b = await connect();
    const key = `slot-${randomUUID()}`;
    const runs = await Promise.all(Array.from({ length: 10 }, () => a.createRun(newRun()).then((r) => r.run.runId)));
    const granted = await Promise.all(runs.map((id, i) => (i % 2 ? a : b).acquireSlot(key, id, 2)));
    expect(granted.filter(Boolean)).toHaveLength(2);
    const holders = runs.filter((_, i) => granted[i]);
    expect(await a.acquireSlot(key, holders[0], 2)).toBe(true); // idempotent
    const waiting = runs.find((_, i) => !granted[i])!;
    expect(await b.acquireSlot(key, waiting, 2)).toBe(false);
    await a.append({ runId: holders[0], expectedSeq: 1, events: [], run: { status: 'completed', finishedAt: 1 }, releaseSlots: true });
    expect(await b.acquireSlot(key, waiting, 2)).toBe(true);
    expect(await a.acquireSlot(`${key}-other`, waiting, 1)).toBe(true); // keys are independent
  });

  it('grants at most `limit` rate permits per window across clients and says how long to wait', async () => {
    const a = await connect();
    const b = await connect();
    const key = `rate-${randomUUID()}`;
    const now = 1_000_000_250; // 250 ms into a 1 s window
    const waits = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).takePermit(key, 5, 1000, now)));
    expect(waits.filter((w) => w === 0)).toHaveLength(5);
    for (const w of waits.filter((x) => x > 0)) expect(w).toBe(750);
    expect(await a.takePermit(key, 5, 1000, now + 750)).toBe(0); // next window
  });

  it('writes schedules with version checks: create-only-if-absent (0) races to one winner, stale versions lose', async () => {
    const a = await connect();
    const b = await connect();
    const id = `conf-sched-${randomUUID().slice(0, 8)}`;
    const record = (version: number, by: string): ScheduleRecord => ({
      scheduleId: id,
      workflow: 'conf.wf',
      queue: 'default',
      args: '[[]]',
      spec: { everyMs: 60_000 },
      overlap: 'skip',
      catchUp: 'latest',
      paused: false,
      nextFireAt: Date.now() + 60_000,
      history: [{ at: Date.now(), action: 'created', detail: by }],
      createdAt: Date.now(),
      updatedAt: Date.now(),
      version,
    });
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 ? a : b).saveSchedule(record(1, `writer-${i}`), 0)));
    expect(results.filter(Boolean)).toHaveLength(1);
    const stored = (await a.getSchedule(id))!;
    expect(stored.history![0].detail).toBe(`writer-${results.indexOf(true)}`);
    expect(await b.saveSchedule(record(1, 'late'), 0)).toBe(false);
    expect(await a.saveSchedule({ ...stored, version: 2 }, 1)).toBe(true);
    expect(await b.saveSchedule({ ...stored, version: 2, paused: true }, 1)).toBe(false);
    expect((await b.getSchedule(id))!.paused).toBe(false);
    expect(await b.deleteSchedule(id)).toBe(true);
    expect(await a.getSchedule(id)).toBeUndefined();
  });
}
