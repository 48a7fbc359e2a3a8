import { randomUUID } from 'node:crypto';
import { expect, it } from 'vitest';
import { itNeeds, undeclaredAbsence } from '../capabilities.js';
import type { StorageSuiteContext } from './context.js';

/**
 * Storage suite, what happens around a run's end: retention, step checkpoints, and notifications of
 * finished runs (the optional subscribeFinished).
 */
export function lifecycleTests(suite: StorageSuiteContext): void {
  const { connect, newRun, ev } = suite;

  it('deletes finished runs older than the retention period, with everything they own, and never unfinished ones', async () => {
    const s = await connect();
    const wf = `conf.retention.${randomUUID()}`;
    const make = async (status: 'completed' | 'failed' | 'running', finishedAt?: number) => {
      const { run } = await s.createRun(newRun({ workflow: wf }));
      const token = `tok-${randomUUID()}`;
      await s.append({
        runId: run.runId,
        expectedSeq: 1,
        events: [ev(run.runId, 2)],
        run: finishedAt === undefined ? { status } : { status, finishedAt },
        setTimers: [{ runId: run.runId, timerId: 't', fireAt: 1 }],
        setHooks: [{ token, runId: run.runId, correlationId: '2', name: 'h', createdAt: 1 }],
      });
      return { runId: run.runId, token };
    };
    const oldDone = await make('completed', 1_000);
    const oldFailed = await make('failed', 2_000);
    const recent = await make('completed', 9_000);
    const running = await make('running');
    let deleted = 0;
    for (let n = -1; n !== 0; ) deleted += n = await s.deleteFinishedRuns(5_000, 1);
    expect(deleted).toBeGreaterThanOrEqual(2);
    for (const gone of [oldDone, oldFailed]) {
      expect(await s.getRun(gone.runId)).toBeUndefined();
      expect(await s.readEvents(gone.runId)).toEqual([]);
      expect(await s.listTimers(gone.runId)).toEqual([]);
      expect(await s.getHook(gone.token)).toBeUndefined();
    }
    for (const kept of [recent, running]) {
      expect(await s.getRun(kept.runId)).toBeDefined();
      expect((await s.readEvents(kept.runId)).length).toBe(2);
    }
    expect((await s.listRuns({ workflow: wf })).runs.map((r) => r.runId).sort()).toEqual([recent.runId, running.runId].sort());
  });

  it('saves, replaces, reads and deletes step checkpoints, per run and step', async () => {
    const a = await connect();
    const b = await connect();
    const { run } = await a.createRun(newRun());
    await a.putCheckpoint(run.runId, '2', '[1]');
    await a.putCheckpoint(run.runId, '2', '[7]');
    await a.putCheckpoint(run.runId, '3', '[3]');
    expect(await b.getCheckpoint(run.runId, '2')).toBe('[7]');
    expect(await b.getCheckpoint(run.runId, '3')).toBe('[3]');
    expect(await b.getCheckpoint(run.runId, '4')).toBeUndefined();
    await b.deleteCheckpoint(run.runId, '2');
    expect(await a.getCheckpoint(run.runId, '2')).toBeUndefined();
    await a.append({ runId: run.runId, expectedSeq: 1, events: [], run: { status: 'completed', finishedAt: 1 } });
    while ((await a.deleteFinishedRuns(2, 100)) > 0);
    expect(await a.getCheckpoint(run.runId, '3')).toBeUndefined();
  });

  // Optional (the local SQLite and DynamoDB backends have clients poll instead): declared absent, skipped.
  itNeeds(suite.capabilities, 'subscribeFinished', 'tells subscribers on other clients of runs that finish, when it offers subscribeFinished', async () => {
    const writer = await connect();
    const reader = await connect();
    if (!reader.subscribeFinished) throw undeclaredAbsence('subscribeFinished', 'Storage.subscribeFinished');
    const heard: string[] = [];
    const unsubscribe = await reader.subscribeFinished((runId) => heard.push(runId));
    const done = newRun();
    const open = newRun();
    await writer.createRun(done);
    await writer.createRun(open);
    await writer.append({ runId: open.runId, expectedSeq: 1, events: [ev(open.runId, 2)] });
    await writer.append({ runId: done.runId, expectedSeq: 1, events: [ev(done.runId, 2)], run: { status: 'completed', result: '[1]', finishedAt: Date.now() } });
    const deadline = Date.now() + 5000;
    while (!heard.includes(done.runId) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(heard).toContain(done.runId);
    expect(heard).not.toContain(open.runId);
    unsubscribe();
    const later = newRun();
    await writer.createRun(later);
    await writer.append({ runId: later.runId, expectedSeq: 1, events: [ev(later.runId, 2)], run: { status: 'failed', finishedAt: Date.now() } });
    await new Promise((r) => setTimeout(r, 200));
    expect(heard).not.toContain(later.runId);
  });

  // Optional (DynamoDB has no clock to offer): declared absent, skipped. The servers under test run on
  // this machine, so their clock is this process's, give or take the round trip.
  itNeeds(suite.capabilities, 'serverTime', "reads the storage's own clock in epoch milliseconds, when it offers serverTime", async () => {
    const s = await connect();
    if (!s.serverTime) throw undeclaredAbsence('serverTime', 'Storage.serverTime');
    const readings: number[] = [];
    for (let i = 0; i < 5; i++) {
      const before = Date.now();
      const t = await s.serverTime();
      const after = Date.now();
      expect(Number.isFinite(t)).toBe(true);
      expect(t).toBeGreaterThanOrEqual(before - 50);
      expect(t).toBeLessThanOrEqual(after + 50);
      readings.push(t);
    }
    expect(readings).toEqual([...readings].sort((a, b) => a - b));
  });
}
