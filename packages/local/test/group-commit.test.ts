import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { AppendConflictError, StorageError } from '@durably/contracts';
import { makeEvent, type NewRun } from '@durably/core';
import { LocalBroker, LocalStorage, availableDrivers } from '../src/index.js';
import { openDatabase } from '../src/sqlite/db.js';
import { GroupCommit } from '../src/sqlite/group-commit.js';

const run = promisify(execFile);
const writer = join(import.meta.dirname, 'fixtures/group-writer.ts');

const dirs: string[] = [];
const open: Array<{ close(): unknown }> = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'durably-group-'));
  dirs.push(dir);
  return dir;
}
afterEach(async () => {
  for (const o of open.splice(0)) await o.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function newRun(runId: string): NewRun {
  const createdAt = Date.now();
  return { runId, workflow: 'gc.wf', queue: 'default', args: '[]', createdAt, firstEvent: makeEvent(runId, 1, 'run_created', { workflow: 'gc.wf', args: '[]', queue: 'default' }, undefined, createdAt) };
}
function step(runId: string, seq: number) {
  return makeEvent(runId, seq, 'step_completed', { name: `s${seq}`, attempt: 1, result: '[]' }, `s${seq}`, Date.now());
}

for (const driver of availableDrivers()) {
  describe(`group commit (${driver})`, () => {
    async function storage(dir = tempDir()): Promise<LocalStorage> {
      const s = new LocalStorage({ path: dir, driver });
      open.push(s);
      await s.migrate();
      return s;
    }

    it('writes the appends requested together in one transaction; the one that conflicts fails alone', async () => {
      const s = await storage();
      await Promise.all(['a', 'b', 'c'].map((id) => s.createRun(newRun(id))));
      const before = s.commits.commits;
      const results = await Promise.allSettled([
        s.append({ runId: 'a', expectedSeq: 1, events: [step('a', 2)] }),
        s.append({ runId: 'b', expectedSeq: 5, events: [step('b', 6)] }),
        s.append({ runId: 'c', expectedSeq: 1, events: [step('c', 2)], run: { status: 'running' } }),
      ]);
      expect(s.commits.commits - before).toBe(1);
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      const conflict = (results[1] as PromiseRejectedResult).reason;
      expect(conflict).toBeInstanceOf(AppendConflictError);
      expect(conflict).toMatchObject({ runId: 'b', expectedSeq: 5, actualSeq: 1 });
      expect((await s.readEvents('a')).map((e) => e.seq)).toEqual([1, 2]);
      expect((await s.readEvents('b')).map((e) => e.seq)).toEqual([1]);
      expect((await s.getRun('b'))?.lastSeq).toBe(1);
      expect(await s.getRun('c')).toMatchObject({ lastSeq: 2, status: 'running' });
    });

    it('writes back-to-back appends to one run in order, in one batch, each seeing the one before', async () => {
      const s = await storage();
      await s.createRun(newRun('r'));
      const before = s.commits.commits;
      await Promise.all([2, 3, 4, 5].map((seq) => s.append({ runId: 'r', expectedSeq: seq - 1, events: [step('r', seq)] })));
      expect(s.commits.commits - before).toBe(1);
      expect((await s.readEvents('r')).map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
      // The same seq twice in one batch: the first wins, the second conflicts with it.
      const twice = await Promise.allSettled([6, 6].map((seq) => s.append({ runId: 'r', expectedSeq: seq - 1, events: [step('r', seq)] })));
      expect(twice.map((r) => r.status)).toEqual(['fulfilled', 'rejected']);
      expect((twice[1] as PromiseRejectedResult).reason).toMatchObject({ name: 'AppendConflictError', actualSeq: 6 });
    });

    it('settles every write only after its COMMIT: nothing resolved is missing from another connection', async () => {
      const dir = tempDir();
      const s = await storage(dir);
      const other = openDatabase(dir, driver);
      open.push(other);
      const ids = Array.from({ length: 40 }, (_, i) => `run-${i}`);
      const seen: number[] = [];
      const settled: string[] = [];
      await Promise.all(
        ids.map((id) =>
          s.createRun(newRun(id)).then(() => {
            // Resolved: the whole batch is committed, so a second connection sees every run of it.
            seen.push((other.prepare('SELECT COUNT(*) AS n FROM runs').get() as { n: number }).n);
            settled.push(id);
          }),
        ),
      );
      // Not one settled before the COMMIT: each saw all 40 rows, written by one transaction.
      expect(seen).toEqual(ids.map(() => 40));
      expect(settled).toEqual(ids);
    });

    it('nothing is settled, nor visible, before the batch is written on the next macrotask', async () => {
      const dir = tempDir();
      const s = await storage(dir);
      const other = openDatabase(dir, driver);
      open.push(other);
      const version = () => other.pragma('data_version') as number;
      const v0 = version();
      let done = false;
      const p = s.createRun(newRun('x')).then(() => (done = true));
      await Promise.resolve();
      await Promise.resolve();
      expect(done).toBe(false);
      expect(other.prepare('SELECT COUNT(*) AS n FROM runs').get()).toEqual({ n: 0 });
      expect(version()).toBe(v0);
      await p;
      expect(version()).not.toBe(v0);
    });

    it('a statement that fails inside a batch is rolled back alone, with its own error; the others commit', async () => {
      const dir = tempDir();
      const db = openDatabase(dir, driver);
      open.push(db);
      db.exec('CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER)');
      const batch = new GroupCommit(() => db);
      const insert = (k: string, v: number) => db.prepare('INSERT INTO t (k, v) VALUES (?, ?)').run(k, v);
      const results = await Promise.allSettled([
        batch.run(() => insert('a', 1).changes),
        // Its first row is written, then its second breaks the primary key: both are undone.
        batch.run(() => {
          insert('b', 2);
          insert('a', 3);
        }),
        batch.run(() => {
          throw new TypeError('not SQL at all');
        }),
        batch.run(() => insert('c', 4).changes),
      ]);
      expect(batch.commits).toBe(1);
      expect(results[0]).toEqual({ status: 'fulfilled', value: 1 });
      expect(results[1].status).toBe('rejected');
      expect(String((results[1] as PromiseRejectedResult).reason)).toMatch(/UNIQUE constraint failed/);
      expect((results[2] as PromiseRejectedResult).reason).toBeInstanceOf(TypeError);
      expect(results[3]).toEqual({ status: 'fulfilled', value: 1 });
      expect(db.prepare('SELECT k, v FROM t ORDER BY k').all()).toEqual([
        { k: 'a', v: 1 },
        { k: 'c', v: 4 },
      ]);
    });

    it('when the transaction cannot start (another connection holds the lock) every write of the batch fails and none is written', async () => {
      const dir = tempDir();
      const s = await storage(dir);
      const holder = openDatabase(dir, driver);
      open.push(holder);
      // The storage's own connection waits only 50 ms for the lock here.
      await s.getRun('none');
      (s as unknown as { db: { pragma(t: string): unknown } }).db.pragma('busy_timeout = 50');
      holder.exec('BEGIN IMMEDIATE');
      const results = await Promise.allSettled([s.createRun(newRun('p')), s.createRun(newRun('q'))]);
      holder.exec('ROLLBACK');
      expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
      for (const r of results) expect((r as PromiseRejectedResult).reason).toBeInstanceOf(StorageError);
      expect(String((results[0] as PromiseRejectedResult).reason)).toMatch(/locked|busy/i);
      expect(await s.getRun('p')).toBeUndefined();
      expect(await s.getRun('q')).toBeUndefined();
      // The next batch takes the lock as usual.
      await s.createRun(newRun('p'));
      expect((await s.getRun('p'))?.lastSeq).toBe(1);
    });

    it('bounds a batch at maxBatch writes, the rest going in the next transaction at once', async () => {
      const dir = tempDir();
      const db = openDatabase(dir, driver);
      open.push(db);
      db.exec('CREATE TABLE t (k INTEGER PRIMARY KEY)');
      const batch = new GroupCommit(() => db, { maxBatch: 10 });
      await Promise.all(Array.from({ length: 25 }, (_, i) => batch.run(() => db.prepare('INSERT INTO t (k) VALUES (?)').run(i))));
      expect(batch.commits).toBe(3);
      expect(db.prepare('SELECT COUNT(*) AS n FROM t').get()).toEqual({ n: 25 });
    });

    it('batches the broker too: publishes of one tick are one transaction, each settled after it', async () => {
      const dir = tempDir();
      const broker = new LocalBroker({ path: dir, driver });
      open.push(broker);
      await broker.migrate();
      const before = broker.commits.commits;
      await Promise.all(Array.from({ length: 20 }, (_, i) => broker.publish('q', `m${i}`)));
      expect(broker.commits.commits - before).toBe(1);
      const received: string[] = [];
      const sub = await broker.consume('q', async (d) => void received.push(d.body), { concurrency: 20 });
      await expect.poll(() => received.length, { timeout: 10_000 }).toBe(20);
      await sub.stop();
      expect(received.sort()).toEqual(Array.from({ length: 20 }, (_, i) => `m${i}`).sort());
    });

    it('close() writes the writes already requested before closing the file', async () => {
      const dir = tempDir();
      const s = new LocalStorage({ path: dir, driver });
      await s.migrate();
      const created = s.createRun(newRun('late'));
      await s.close();
      await expect(created).resolves.toMatchObject({ created: true });
      const again = await storage(dir);
      expect((await again.getRun('late'))?.lastSeq).toBe(1);
    });
  });
}

describe('group commit across processes', () => {
  it('two processes batching writes to one file: every append is written once, the shared run in one gapless sequence', async () => {
    const dir = tempDir();
    const s = new LocalStorage({ path: dir });
    open.push(s);
    await s.migrate();
    await s.createRun(newRun('shared'));
    const rounds = 15;
    const child = (label: string) =>
      run(process.execPath, ['--import', 'tsx', writer, dir, label, String(rounds)], {
        env: { ...process.env, NODE_OPTIONS: '--conditions=@durably/source' },
        timeout: 120_000,
      }).then(({ stdout }) => JSON.parse(stdout.trim().split('\n').at(-1)!) as { ok: boolean; commits: number });
    const [a, b] = await Promise.all([child('a'), child('b')]);
    expect(a.ok && b.ok).toBe(true);
    for (const label of ['a', 'b']) {
      for (let i = 0; i < 10; i++) expect((await s.readEvents(`${label}-${i}`)).map((e) => e.seq)).toEqual(Array.from({ length: rounds + 1 }, (_, k) => k + 1));
    }
    const shared = await s.readEvents('shared');
    expect(shared.map((e) => e.seq)).toEqual(Array.from({ length: 2 * rounds + 1 }, (_, k) => k + 1));
    const names = shared.slice(1).map((e) => (e.data as { name: string }).name);
    expect(new Set(names).size).toBe(2 * rounds);
    // Batched: far fewer transactions than the 11 writes of each round (10 own runs + the shared one).
    expect(a.commits).toBeLessThan(rounds * 11);
    expect(b.commits).toBeLessThan(rounds * 11);
  }, 150_000);
});
