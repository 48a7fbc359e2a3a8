import { describe } from 'vitest';
import { brokerSuite, engineSuite, storageSuite } from '@durably/testing';
import { PostgresBroker, PostgresStorage } from '../src/index.js';
import { PG_URL, dropSchema, serverAvailable, uniqueSchema } from './harness.js';

const available = await serverAvailable();

describe.skipIf(!available)('postgres adapter', () => {
  storageSuite('postgres', async () => {
    const schema = uniqueSchema();
    return { connect: async () => new PostgresStorage({ url: PG_URL, schema, max: 4 }), cleanup: () => dropSchema(schema) };
  });
  brokerSuite('postgres', async () => {
    const schema = uniqueSchema();
    return { connect: async () => new PostgresBroker({ url: PG_URL, schema, max: 4 }), cleanup: () => dropSchema(schema) };
  });
  engineSuite('postgres+postgres', async () => {
    const schema = uniqueSchema();
    return {
      connect: async () => ({ storage: new PostgresStorage({ url: PG_URL, schema, max: 4 }), broker: new PostgresBroker({ url: PG_URL, schema, max: 4 }) }),
      cleanup: () => dropSchema(schema),
    };
  });
});
