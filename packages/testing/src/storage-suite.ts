import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { AppendConflictError, RunNotFoundError, makeEvent, type DurablyEvent, type NewRun, type RunRecord, type ScheduleRecord, type Storage } from '@durably/core';

export interface StorageHarness {
  /** A new client on the same backend each call, as another process would have. */
  connect(): Promise<Storage>;
  cleanup?(): Promise<void>;
}

/**
 * The storage contract suite. Every adapter runs it with one call; each test isolates itself with
 * fresh run ids and a unique workflow name, so one backend can be shared by all tests.
 */
export function storageSuite(name: string, createHarness: () => Promise<StorageHarness>): void {
  describe(`storage conformance: ${name}`, () => {
    let harness: StorageHarness | undefined;
    const clients: Storage[] = [];

    async function connect(): Promise<Storage> {
      harness ??= await createHarness();
      const s = await harness.connect();
      await s.migrate();
      clients.push(s);
      return s;
    }

    afterEach(async () => {
      await Promise.allSettled(clients.splice(0).map((c) => c.close()));
      if (harness?.cleanup) await harness.cleanup();
      harness = undefined;
    });

    let clock = Date.now();
    function newRun(overrides: Partial<NewRun> = {}): NewRun {
      const runId = overrides.runId ?? randomUUID();
      const createdAt = overrides.createdAt ?? ++clock;
      return {
        runId,
        workflow: overrides.workflow ?? 'conf.wf',
        queue: 'default',
        args: '[[1],"arg"]',
        createdAt,
        firstEvent: makeEvent(runId, 1, 'run_created', { workflow: overrides.workflow ?? 'conf.wf', args: '[[1],"arg"]', queue: 'default' }, undefined, createdAt),
        ...overrides,
      };
    }

    function ev(runId: string, seq: number, label = `s${seq}`): DurablyEvent {
      return makeEvent(runId, seq, 'step_completed', { name: label, attempt: 1, result: `["${label}"]` }, String(seq), Date.now());
    }

    async function seqs(s: Storage, runId: string): Promise<number[]> {
      return (await s.readEvents(runId)).map((e) => e.seq);
    }

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

    it('filters runs by workflow, status, parent, creation and update time', async () => {
      const s = await connect();
      const wf = `conf.filter.${randomUUID()}`;
      const base = Date.now() + 1_000_000;
      const runs: RunRecord[] = [];
      for (let i = 0; i < 6; i++) {
        runs.push((await s.createRun(newRun({ workflow: wf, createdAt: base + i, parentRunId: i < 2 ? 'p-' + wf : undefined }))).run);
      }
      await s.append({ runId: runs[0].runId, expectedSeq: 1, events: [], run: { status: 'completed' } });
      await s.append({ runId: runs[1].runId, expectedSeq: 1, events: [], run: { status: 'failed' } });
      await s.touchRun(runs[2].runId, 5);
      const ids = (page: { runs: RunRecord[] }) => page.runs.map((r) => r.runId);
      expect(ids(await s.listRuns({ workflow: wf }))).toEqual(runs.map((r) => r.runId).reverse());
      expect(ids(await s.listRuns({ workflow: wf, status: 'completed' }))).toEqual([runs[0].runId]);
      expect(ids(await s.listRuns({ workflow: wf, status: ['completed', 'failed'] }))).toEqual([runs[1].runId, runs[0].runId]);
      expect(ids(await s.listRuns({ parentRunId: 'p-' + wf }))).toEqual([runs[1].runId, runs[0].runId]);
      expect(ids(await s.listRuns({ workflow: wf, createdAfter: base + 3 }))).toEqual([runs[5].runId, runs[4].runId, runs[3].runId]);
      expect(ids(await s.listRuns({ workflow: wf, createdBefore: base + 2 }))).toEqual([runs[1].runId, runs[0].runId]);
      expect(ids(await s.listRuns({ workflow: wf, updatedBefore: 10 }))).toEqual([runs[2].runId]);
      expect(ids(await s.listRuns({ workflow: wf, status: 'running' }))).toEqual([]);
    });

    it('stores tags and lists runs carrying all the given tags', async () => {
      const s = await connect();
      const wf = `conf.tags.${randomUUID()}`;
      const t = randomUUID().slice(0, 8);
      const a = (await s.createRun(newRun({ workflow: wf, tags: [`team:${t}`, `tier:gold-${t}`] }))).run;
      const b = (await s.createRun(newRun({ workflow: wf, tags: [`team:${t}`] }))).run;
      await s.createRun(newRun({ workflow: wf }));
      expect(a.tags).toEqual([`team:${t}`, `tier:gold-${t}`]);
      expect((await s.getRun(b.runId))!.tags).toEqual([`team:${t}`]);
      const ids = async (tags: string[], workflow?: string) => (await s.listRuns({ tags, workflow })).runs.map((r) => r.runId);
      expect(await ids([`team:${t}`])).toEqual([b.runId, a.runId]);
      expect(await ids([`team:${t}`, `tier:gold-${t}`])).toEqual([a.runId]);
      expect(await ids([`team:${t}`], wf)).toEqual([b.runId, a.runId]);
      expect(await ids([`nobody-${t}`])).toEqual([]);
    });

    it('pages over 5,000 runs: each exactly once, newest first, while new runs are created', async () => {
      const s = await connect();
      const wf = `conf.paging.${randomUUID()}`;
      const base = Date.now();
      const all: string[] = [];
      for (let batch = 0; batch < 50; batch++) {
        const created = await Promise.all(
          // Runs share createdAt in pairs to check the runId tie-break of the order.
          Array.from({ length: 100 }, (_, i) => s.createRun(newRun({ workflow: wf, createdAt: base + Math.floor((batch * 100 + i) / 2) }))),
        );
        all.push(...created.map((c) => c.run.runId));
      }
      for (const limit of [500, 1000]) {
        const seen: RunRecord[] = [];
        let cursor: string | undefined;
        let pages = 0;
        do {
          const page = await s.listRuns({ workflow: wf, limit, cursor });
          expect(page.runs.length).toBeLessThanOrEqual(limit);
          seen.push(...page.runs);
          cursor = page.nextCursor;
          // New runs created mid-walk are newer than the cursor: they must not disturb it.
          if (pages++ === 1) await s.createRun(newRun({ workflow: wf, createdAt: base + 10_000_000 + pages + limit }));
        } while (cursor);
        const ids = seen.map((r) => r.runId);
        expect(new Set(ids).size).toBe(ids.length);
        for (const id of all) expect(ids.includes(id)).toBe(true);
        for (let i = 1; i < seen.length; i++) {
          const prev = seen[i - 1];
          const cur = seen[i];
          expect(prev.createdAt > cur.createdAt || (prev.createdAt === cur.createdAt && prev.runId > cur.runId)).toBe(true);
        }
      }
      const small = await s.listRuns({ workflow: wf });
      expect(small.runs).toHaveLength(100);
      expect(small.nextCursor).toBeDefined();
    }, 120_000);

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

    it('tells subscribers on other clients of runs that finish, when it offers subscribeFinished', async () => {
      const writer = await connect();
      const reader = await connect();
      if (!reader.subscribeFinished) {
        // Optional capability (the local SQLite backend polls instead): nothing else to check.
        expect(writer.subscribeFinished).toBeUndefined();
        return;
      }
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
  });
}
