import { randomUUID } from 'node:crypto';
import { expect, it } from 'vitest';
import { AppendConflictError, RunNotFoundError, type Storage } from '@durably/core';
import type { StorageSuiteContext } from './context.js';

/**
 * Storage suite, the log: fenced appends with their run patch and timers, conflicts under concurrent
 * writers, and reading events back.
 */
export function appendTests(suite: StorageSuiteContext): void {
  const { connect, newRun, ev, seqs } = suite;

  it('appends events, applies the run patch and timers, and updates lastSeq and updatedAt', async () => {
    const s = await connect();
    const { run } = await s.createRun(newRun());
    const at = Date.now() + 5000;
    const events = [ev(run.runId, 2), ev(run.runId, 3)].map((e) => ({ ...e, at }));
    await s.append({
      runId: run.runId,
      expectedSeq: 1,
      events,
      run: { status: 'completed', result: '[1]', finishedAt: at },
      setTimers: [{ runId: run.runId, timerId: 't1', fireAt: 10 }],
    });
    const after = (await s.getRun(run.runId))!;
    expect(after).toMatchObject({ status: 'completed', result: '[1]', finishedAt: at, lastSeq: 3 });
    expect(after.updatedAt).toBeGreaterThanOrEqual(at);
    expect(await s.readEvents(run.runId, 2)).toEqual(events);
    expect(await s.listTimers(run.runId)).toEqual([{ runId: run.runId, timerId: 't1', fireAt: 10 }]);

    await s.append({ runId: run.runId, expectedSeq: 3, events: [], run: { status: 'failed', error: { name: 'Error', message: 'x', code: 'C' } } });
    expect((await s.getRun(run.runId))!.error).toEqual({ name: 'Error', message: 'x', code: 'C' });
    expect((await s.getRun(run.runId))!.result).toBe('[1]');
  });

  it('rejects a stale append with AppendConflictError and writes nothing of it', async () => {
    const s = await connect();
    const { run } = await s.createRun(newRun());
    await s.append({ runId: run.runId, expectedSeq: 1, events: [ev(run.runId, 2)] });
    const error = await s
      .append({ runId: run.runId, expectedSeq: 1, events: [ev(run.runId, 2, 'other')], run: { status: 'failed' }, setTimers: [{ runId: run.runId, timerId: 'x', fireAt: 1 }] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppendConflictError);
    expect((error as AppendConflictError).code).toBe('APPEND_CONFLICT');
    const events = await s.readEvents(run.runId);
    expect(events.map((e) => e.seq)).toEqual([1, 2]);
    expect((events[1].data as { name: string }).name).toBe('s2');
    expect((await s.getRun(run.runId))!.status).toBe('pending');
    expect(await s.listTimers(run.runId)).toEqual([]);
    expect(await s.claimDueTimers(Date.now() + 1e9, { limit: 1000, leaseMs: 1 }).then((t) => t.filter((x) => x.runId === run.runId))).toEqual([]);
  });

  it('throws RunNotFoundError when appending to a missing run', async () => {
    const s = await connect();
    await expect(s.append({ runId: 'missing-' + randomUUID(), expectedSeq: 1, events: [] })).rejects.toBeInstanceOf(RunNotFoundError);
  });

  it('lets exactly one of 20 concurrent appends with the same expectedSeq win, across two clients', async () => {
    const a = await connect();
    const b = await connect();
    const { run } = await a.createRun(newRun());
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).append({ runId: run.runId, expectedSeq: 1, events: [ev(run.runId, 2, `w${i}`), ev(run.runId, 3, `w${i}`)] })),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(AppendConflictError);
    const events = await a.readEvents(run.runId);
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3]);
    // Both events of the winner, none of a loser.
    expect(new Set(events.slice(1).map((e) => (e.data as { name: string }).name)).size).toBe(1);
    expect((await b.getRun(run.runId))!.lastSeq).toBe(3);
  });

  it('leaves a contiguous log when two clients append 50 events each in a read-then-append retry loop', async () => {
    const a = await connect();
    const b = await connect();
    const { run } = await a.createRun(newRun());
    let conflicts = 0;
    const writer = async (s: Storage, label: string) => {
      for (let written = 0; written < 50; ) {
        const last = (await s.getRun(run.runId))!.lastSeq;
        try {
          await s.append({ runId: run.runId, expectedSeq: last, events: [ev(run.runId, last + 1, `${label}${written}`)] });
          written++;
        } catch (err) {
          expect(err).toBeInstanceOf(AppendConflictError);
          conflicts++;
        }
      }
    };
    await Promise.all([writer(a, 'a'), writer(b, 'b')]);
    const events = await a.readEvents(run.runId);
    expect(events.map((e) => e.seq)).toEqual(Array.from({ length: 101 }, (_, i) => i + 1));
    const names = events.slice(1).map((e) => (e.data as { name: string }).name);
    expect(new Set(names).size).toBe(100);
    expect(conflicts).toBeGreaterThanOrEqual(0);
  });

  it('reads events from a seq with a limit', async () => {
    const s = await connect();
    const { run } = await s.createRun(newRun());
    await s.append({ runId: run.runId, expectedSeq: 1, events: [2, 3, 4, 5].map((n) => ev(run.runId, n)) });
    expect(await seqs(s, run.runId)).toEqual([1, 2, 3, 4, 5]);
    expect((await s.readEvents(run.runId, 3)).map((e) => e.seq)).toEqual([3, 4, 5]);
    expect((await s.readEvents(run.runId, 2, 2)).map((e) => e.seq)).toEqual([2, 3]);
    expect(await s.readEvents(run.runId, 9)).toEqual([]);
  });
}
