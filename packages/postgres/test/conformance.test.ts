import { describe } from 'vitest';
import pg from 'pg';
import { brokerSuite, engineSuite, hookIndexAtRestTest, storageSuite } from '@durably/testing';
import { PostgresBroker, PostgresStorage } from '../src/index.js';
import { PG_URL, dropSchema, serverAvailable, uniqueSchema } from './harness.js';
import { capabilities } from './capabilities.js';

const available = await serverAvailable();

describe.skipIf(!available)('postgres adapter', () => {
  storageSuite('postgres', async () => {
    const schema = uniqueSchema();
    return { connect: async () => new PostgresStorage({ url: PG_URL, schema, max: 4 }), cleanup: () => dropSchema(schema) };
  }, { capabilities });
  brokerSuite('postgres', async () => {
    const schema = uniqueSchema();
    return { connect: async () => new PostgresBroker({ url: PG_URL, schema, max: 4 }), cleanup: () => dropSchema(schema) };
  }, { capabilities });
  engineSuite('postgres+postgres', async () => {
    const schema = uniqueSchema();
    return {
      connect: async () => ({ storage: new PostgresStorage({ url: PG_URL, schema, max: 4 }), broker: new PostgresBroker({ url: PG_URL, schema, max: 4 }) }),
      cleanup: () => dropSchema(schema),
    };
  }, { capabilities });

  // The hook index as the table holds it.
  hookIndexAtRestTest('postgres', async () => {
    const schema = uniqueSchema();
    return {
      connect: async () => ({ storage: new PostgresStorage({ url: PG_URL, schema, max: 4 }), broker: new PostgresBroker({ url: PG_URL, schema, max: 4 }) }),
      readHookIndex: async () => {
        const client = new pg.Client({ connectionString: PG_URL });
        await client.connect();
        try {
          return (await client.query(`SELECT * FROM "${schema}".hooks`)).rows.map((row) => JSON.stringify(row));
        } finally {
          await client.end();
        }
      },
      cleanup: () => dropSchema(schema),
    };
  });
});
