import { randomUUID } from 'node:crypto';
import { expect, it } from 'vitest';
import { AppendConflictError, type Storage } from '@durably/core';
import type { StorageSuiteContext } from './context.js';

/**
 * Storage suite, timers and hooks: setting, moving and claiming timers (one claimer each), and the
 * hook index written with the append.
 */
export function timerAndHookTests(suite: StorageSuiteContext): void {
  const { connect, newRun, ev, seqs } = suite;

  it('sets, moves and clears timers, and claims only due ones in fireAt order up to the limit', async () => {
    const s = await connect();
    const { run } = await s.createRun(newRun());
    const t0 = 1_000_000;
    await s.append({
      runId: run.runId,
      expectedSeq: 1,
      events: [ev(run.runId, 2)],
      setTimers: [
        { runId: run.runId, timerId: 'c', fireAt: t0 + 30 },
        { runId: run.runId, timerId: 'a', fireAt: t0 + 10 },
        { runId: run.runId, timerId: 'b', fireAt: t0 + 20 },
        { runId: run.runId, timerId: 'later', fireAt: t0 + 10_000 },
      ],
    });
    // Upsert moves a timer; clear deletes one.
    await s.append({ runId: run.runId, expectedSeq: 2, events: [ev(run.runId, 3)], setTimers: [{ runId: run.runId, timerId: 'c', fireAt: t0 + 5 }], clearTimers: ['b'] });
    expect((await s.listTimers(run.runId)).map((t) => t.timerId)).toEqual(['c', 'a', 'later']);
    const mine = (ts: { runId: string; timerId: string }[]) => ts.filter((t) => t.runId === run.runId).map((t) => t.timerId);
    const claimed = await s.claimDueTimers(t0 + 100, { limit: 1000, leaseMs: 1000 });
    expect(mine(claimed)).toEqual(['c', 'a']);
    // Leased: not claimable again until the lease ends.
    expect(mine(await s.claimDueTimers(t0 + 200, { limit: 1000, leaseMs: 1000 }))).toEqual([]);
    expect(mine(await s.claimDueTimers(t0 + 1100, { limit: 1000, leaseMs: 1000 }))).toEqual(['c', 'a']);
    // A cleared timer is never claimable.
    await s.append({ runId: run.runId, expectedSeq: 3, events: [], clearTimers: ['c', 'a'] });
    expect(mine(await s.claimDueTimers(t0 + 5000, { limit: 1000, leaseMs: 1000 }))).toEqual([]);
    expect(mine(await s.claimDueTimers(t0 + 20_000, { limit: 1000, leaseMs: 1000 }))).toEqual(['later']);
  });

  it('moves a timer with an append of no events: fenced, the log unchanged, updatedAt set, and a claimed timer moved is claimable at its new time', async () => {
    // How a worker renews a step attempt's lease while the step runs (the timer lease:<position>).
    const s = await connect();
    const { run } = await s.createRun(newRun());
    const t0 = 3_000_000;
    const mine = (ts: { runId: string; timerId: string }[]) => ts.filter((t) => t.runId === run.runId).map((t) => t.timerId);
    await s.append({ runId: run.runId, expectedSeq: 1, events: [ev(run.runId, 2)], setTimers: [{ runId: run.runId, timerId: 'lease:2', fireAt: t0 }] });
    expect(mine(await s.claimDueTimers(t0 + 10, { limit: 1000, leaseMs: 60_000 }))).toEqual(['lease:2']);
    const before = (await s.getRun(run.runId))!;
    await new Promise((r) => setTimeout(r, 5));
    await s.append({ runId: run.runId, expectedSeq: 2, events: [], setTimers: [{ runId: run.runId, timerId: 'lease:2', fireAt: t0 + 100 }] });
    const after = (await s.getRun(run.runId))!;
    expect(after.lastSeq).toBe(2);
    expect(await seqs(s, run.runId)).toEqual([1, 2]);
    expect(after.updatedAt).toBeGreaterThan(before.updatedAt);
    expect(await s.listTimers(run.runId)).toEqual([{ runId: run.runId, timerId: 'lease:2', fireAt: t0 + 100 }]);
    // Moving ended the claim of 60 s: due again at its new time, not before.
    expect(mine(await s.claimDueTimers(t0 + 50, { limit: 1000, leaseMs: 60_000 }))).toEqual([]);
    expect(mine(await s.claimDueTimers(t0 + 200, { limit: 1000, leaseMs: 60_000 }))).toEqual(['lease:2']);
    // Fenced like any append: a writer behind the log moves nothing.
    await expect(s.append({ runId: run.runId, expectedSeq: 1, events: [], setTimers: [{ runId: run.runId, timerId: 'lease:2', fireAt: t0 + 999 }] })).rejects.toBeInstanceOf(AppendConflictError);
    expect((await s.listTimers(run.runId))[0].fireAt).toBe(t0 + 100);
    await s.append({ runId: run.runId, expectedSeq: 2, events: [], clearTimers: ['lease:2'] });
    expect(await s.listTimers(run.runId)).toEqual([]);
  });

  it('gives each of 200 due timers to exactly one of two workers claiming at once', async () => {
    const a = await connect();
    const b = await connect();
    const { run } = await a.createRun(newRun());
    const t0 = 2_000_000;
    const timers = Array.from({ length: 200 }, (_, i) => ({ runId: run.runId, timerId: `t${i}`, fireAt: t0 + i }));
    await a.append({ runId: run.runId, expectedSeq: 1, events: [], setTimers: timers });
    const got: Record<string, string[]> = { a: [], b: [] };
    const worker = async (s: Storage, name: string) => {
      for (let i = 0; i < 40; i++) {
        const batch = (await s.claimDueTimers(t0 + 1000, { limit: 7, leaseMs: 60_000 })).filter((t) => t.runId === run.runId);
        got[name].push(...batch.map((t) => t.timerId));
      }
    };
    await Promise.all([worker(a, 'a'), worker(b, 'b')]);
    const all = [...got.a, ...got.b];
    expect(all).toHaveLength(200);
    expect(new Set(all).size).toBe(200);
  });

  it('indexes hooks by token with the append, upserts them, and writes none on a conflict', async () => {
    const a = await connect();
    const b = await connect();
    const { run } = await a.createRun(newRun());
    const token = `tok-${randomUUID()}`;
    const hook = { token, runId: run.runId, correlationId: '3', name: 'approval', createdAt: 100, expiresAt: 5000 };
    await a.append({ runId: run.runId, expectedSeq: 1, events: [ev(run.runId, 2)], setHooks: [hook] });
    expect(await b.getHook(token)).toEqual(hook);
    await b.append({ runId: run.runId, expectedSeq: 2, events: [ev(run.runId, 3)], setHooks: [{ ...hook, consumedAt: 200 }] });
    expect(await a.getHook(token)).toEqual({ ...hook, consumedAt: 200 });
    const lost = `tok-${randomUUID()}`;
    await expect(a.append({ runId: run.runId, expectedSeq: 1, events: [ev(run.runId, 2)], setHooks: [{ ...hook, token: lost }] })).rejects.toBeInstanceOf(AppendConflictError);
    expect(await a.getHook(lost)).toBeUndefined();
    expect(await a.getHook('no-such-token')).toBeUndefined();
  });
}
