import { afterAll, describe, expect, it } from 'vitest';
import { makeEvent } from '@durably/core';
import { PostgresStorage, SCHEMA_VERSION } from '../src/index.js';
import { Connection, migrate } from '../src/schema.js';
import { PG_URL, dropSchema, serverAvailable, uniqueSchema } from './harness.js';

const available = await serverAvailable();
const schema = uniqueSchema();

describe.skipIf(!available)('postgres schema upgrade', () => {
  afterAll(() => dropSchema(schema));

  it('upgrades a schema of version 3 in place: an idempotency key becomes unique per workflow and old runs keep theirs', async () => {
    const conn = new Connection({ url: PG_URL, schema, max: 2 });
    try {
      await migrate(conn, 3);
      // A run written by a release whose keys were global.
      await conn.query(
        `INSERT INTO "${schema}".runs (run_id, workflow, status, queue, args, idempotency_key, created_at, updated_at, last_seq) VALUES ('old-run', 'wf.a', 'pending', 'default', '[[]]', 'k1', 1, 1, 1)`,
      );
      await conn.query(`INSERT INTO "${schema}".events (run_id, seq, type, at, data) VALUES ('old-run', 1, 'run_created', 1, '{}')`);
    } finally {
      await conn.close();
    }
    const storage = new PostgresStorage({ url: PG_URL, schema, max: 2 });
    try {
      await storage.migrate();
      const create = (runId: string, workflow: string) =>
        storage.createRun({ runId, workflow, queue: 'default', args: '[[]]', idempotencyKey: 'k1', createdAt: 2, firstEvent: makeEvent(runId, 1, 'run_created', { workflow, args: '[[]]', queue: 'default' }, undefined, 2) });
      const same = await create('new-a', 'wf.a');
      expect(same.created).toBe(false);
      expect(same.run.runId).toBe('old-run');
      const other = await create('new-b', 'wf.b');
      expect(other.created).toBe(true);
      expect(other.run.runId).toBe('new-b');
      const versions = new Connection({ url: PG_URL, schema, max: 1 });
      try {
        const { rows } = await versions.query<{ v: number }>(`SELECT max(version) AS v FROM "${schema}".schema_migrations`);
        expect(rows[0].v).toBe(SCHEMA_VERSION);
      } finally {
        await versions.close();
      }
      await storage.migrate(); // nothing left to do
    } finally {
      await storage.close();
    }
  });
});
