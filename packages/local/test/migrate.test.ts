import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { makeEvent } from '@durably/contracts';
import { LocalStorage } from '../src/index.js';
import { SCHEMA_VERSION, migrate, openDatabase } from '../src/sqlite/db.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

it('upgrades a database file of version 6 in place: an idempotency key becomes unique per workflow and old runs keep theirs', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'durably-migrate-'));
  dirs.push(dir);
  const db = openDatabase(dir);
  migrate(db, 6);
  // A run written by a release whose keys were global.
  db.prepare(
    `INSERT INTO runs (run_id, workflow, status, queue, args, idempotency_key, parent_run_id, created_at, updated_at, last_seq, tags) VALUES ('old-run', 'wf.a', 'pending', 'default', '[[]]', 'k1', 'p1', 1, 1, 1, '["t"]')`,
  ).run();
  db.prepare(`INSERT INTO events (run_id, seq, type, at, data) VALUES ('old-run', 1, 'run_created', 1, '{}')`).run();
  db.close();

  const storage = new LocalStorage({ path: dir });
  try {
    await storage.migrate();
    expect(await storage.getRun('old-run')).toMatchObject({ workflow: 'wf.a', idempotencyKey: 'k1', parentRunId: 'p1', tags: ['t'], lastSeq: 1 });
    const create = (runId: string, workflow: string) =>
      storage.createRun({ runId, workflow, queue: 'default', args: '[[]]', idempotencyKey: 'k1', createdAt: 2, firstEvent: makeEvent(runId, 1, 'run_created', { workflow, args: '[[]]', queue: 'default' }, undefined, 2) });
    const same = await create('new-a', 'wf.a');
    expect(same).toMatchObject({ created: false, run: { runId: 'old-run' } });
    const other = await create('new-b', 'wf.b');
    expect(other).toMatchObject({ created: true, run: { runId: 'new-b', workflow: 'wf.b' } });
    expect((await storage.listRuns({ parentRunId: 'p1' })).runs.map((r) => r.runId)).toEqual(['old-run']);
  } finally {
    await storage.close();
  }
  const check = openDatabase(dir);
  expect(check.pragma('user_version')).toBe(SCHEMA_VERSION);
  check.close();
});
