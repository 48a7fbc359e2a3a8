import { randomUUID } from 'node:crypto';
import { expect, it } from 'vitest';
import type { StorageSuiteContext } from './context.js';

/**
 * Storage suite, runs: creating a run with its first event, idempotency keys and run ids under
 * racing creates, touchRun, and migrations.
 */
export function runTests(suite: StorageSuiteContext): void {
  const { connect, newRun, seqs } = suite;

  it('creates a run with its first event and reads it back', async () => {
    const s = await connect();
    const input = newRun({ parentRunId: 'parent-1', startAt: 123 });
    const { run, created } = await s.createRun(input);
    expect(created).toBe(true);
    expect(run).toMatchObject({ runId: input.runId, workflow: 'conf.wf', status: 'pending', queue: 'default', args: input.args, lastSeq: 1, parentRunId: 'parent-1', startAt: 123 });
    expect(await s.getRun(input.runId)).toEqual(run);
    const events = await s.readEvents(input.runId);
    expect(events).toHaveLength(1);
    expect(events[0]).toEqual(input.firstEvent);
    expect(await s.getRun('no-such-run')).toBeUndefined();
    expect(await s.readEvents('no-such-run')).toEqual([]);
  });

  it('returns the existing run for an idempotency key, sequentially and under 10 concurrent creates', async () => {
    const s = await connect();
    const key = `key-${randomUUID()}`;
    const first = await s.createRun(newRun({ idempotencyKey: key }));
    const second = await s.createRun(newRun({ idempotencyKey: key }));
    expect(second.created).toBe(false);
    expect(second.run.runId).toBe(first.run.runId);

    const other = await connect();
    const raceKey = `race-${randomUUID()}`;
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? s : other).createRun(newRun({ idempotencyKey: raceKey }))));
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(new Set(results.map((r) => r.run.runId)).size).toBe(1);
  });

  it('returns the existing run for a second create with the same run id, writing nothing, also when creates race', async () => {
    const s = await connect();
    const input = newRun();
    const first = await s.createRun(input);
    const again = await s.createRun(newRun({ runId: input.runId, workflow: 'conf.other', args: '[[1],"other"]', createdAt: input.createdAt + 5 }));
    expect(again.created).toBe(false);
    expect(again.run).toEqual(first.run);
    expect(await seqs(s, input.runId)).toEqual([1]);
    expect((await s.readEvents(input.runId))[0]).toEqual(input.firstEvent);
    expect((await s.listRuns({ workflow: 'conf.other' })).runs.map((r) => r.runId)).not.toContain(input.runId);

    const other = await connect();
    const runId = `race-${randomUUID()}`;
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => (i % 2 ? s : other).createRun(newRun({ runId, args: `[[1],"arg ${i}"]` }))),
    );
    expect(results.filter((r) => r.created)).toHaveLength(1);
    const winner = results.find((r) => r.created)!.run;
    for (const r of results) expect(r.run).toEqual(winner);
    expect(await seqs(s, runId)).toEqual([1]);
  });

  it('scopes idempotency keys by workflow: one run per workflow and key, also when creates race', async () => {
    const s = await connect();
    const key = `key-${randomUUID()}`;
    const a = await s.createRun(newRun({ workflow: 'conf.scope-a', idempotencyKey: key }));
    const b = await s.createRun(newRun({ workflow: 'conf.scope-b', idempotencyKey: key }));
    expect([a.created, b.created]).toEqual([true, true]);
    expect(b.run.runId).not.toBe(a.run.runId);
    expect(b.run).toMatchObject({ workflow: 'conf.scope-b', idempotencyKey: key });
    const againA = await s.createRun(newRun({ workflow: 'conf.scope-a', idempotencyKey: key }));
    expect(againA).toEqual({ run: a.run, created: false });
    const againB = await s.createRun(newRun({ workflow: 'conf.scope-b', idempotencyKey: key }));
    expect(againB).toEqual({ run: b.run, created: false });

    const other = await connect();
    const raceKey = `race-${randomUUID()}`;
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => (i % 2 ? s : other).createRun(newRun({ workflow: i % 3 ? 'conf.scope-a' : 'conf.scope-b', idempotencyKey: raceKey }))),
    );
    expect(results.filter((r) => r.created).map((r) => r.run.workflow).sort()).toEqual(['conf.scope-a', 'conf.scope-b']);
    for (const wf of ['conf.scope-a', 'conf.scope-b']) {
      expect(new Set(results.filter((r) => r.run.workflow === wf).map((r) => r.run.runId)).size).toBe(1);
    }
  });

  it('finds a run by its workflow and idempotency key (getRunByIdempotencyKey), scoped by workflow, from another connection', async () => {
    const s = await connect();
    const other = await connect();
    const key = `key-${randomUUID()}`;
    const a = await s.createRun(newRun({ workflow: 'conf.bykey-a', idempotencyKey: key }));
    const b = await s.createRun(newRun({ workflow: 'conf.bykey-b', idempotencyKey: key }));
    await s.createRun(newRun({ workflow: 'conf.bykey-a' }));
    expect(await other.getRunByIdempotencyKey('conf.bykey-a', key)).toEqual(a.run);
    expect(await other.getRunByIdempotencyKey('conf.bykey-b', key)).toEqual(b.run);
    expect(await other.getRunByIdempotencyKey('conf.bykey-c', key)).toBeUndefined();
    expect(await other.getRunByIdempotencyKey('conf.bykey-a', `no-${key}`)).toBeUndefined();
  });

  it('updates updatedAt on touchRun', async () => {
    const s = await connect();
    const { run } = await s.createRun(newRun());
    await s.touchRun(run.runId, run.updatedAt + 12345);
    expect((await s.getRun(run.runId))!.updatedAt).toBe(run.updatedAt + 12345);
    await s.touchRun('missing-' + randomUUID(), 1);
  });

  it('migrates idempotently', async () => {
    const s = await connect();
    await s.migrate();
    await Promise.all([s.migrate(), (await connect()).migrate()]);
    const { created } = await s.createRun(newRun());
    expect(created).toBe(true);
  });
}
