import { describe } from 'vitest';
import { badInputSuite } from '@durably/testing';
import { PostgresBroker, PostgresStorage } from '../src/index.js';
import { PG_URL, dropSchema, serverAvailable, uniqueSchema } from './harness.js';

const available = await serverAvailable();

// The storage cases of the bad-input table (injection through every name, id, key and filter, cursors,
// tokens), and the URL and unreachable-server cases, on PostgreSQL in a schema of their own.
describe.skipIf(!available)('postgres adapter', () => {
  badInputSuite('postgres+postgres', async () => {
    const schema = uniqueSchema();
    return {
      connect: async () => ({ storage: new PostgresStorage({ url: PG_URL, schema, max: 4 }), broker: new PostgresBroker({ url: PG_URL, schema, max: 4 }) }),
      cleanup: () => dropSchema(schema),
    };
  }, {
    cases: 'storage',
    backend: {
      kind: 'postgres',
      server: {
        malformedUrls: [
          { url: 'postgres://app:s3cret@127.0.0.1:54x2/test', part: 'port' },
          { url: 'postgres://app:s3cret@127.0.0.1:99999/test', part: 'port' },
          { url: 'postgres://app:se/cret@127.0.0.1/test', part: 'userinfo' },
          { url: 'postgres://app:s3cret@/test', part: 'host' },
          { url: 'postgres://[::1/test', part: 'host' },
          { url: 'postgres:/127.0.0.1/test', part: 'scheme' },
          { url: 'postgres://127.0.0.1/test?max=lots', part: 'query' },
        ],
        hostileOptionUrls: [
          { url: 'postgres://127.0.0.1/test?schema=x%22%3B%20DROP%20SCHEMA%20public%3B--', message: /Postgres schema "x\\"; DROP SCHEMA public;--" is invalid: use 1-63 lowercase letters, digits and "_"/ },
        ],
        unreachableUrl: 'postgres://app:s3cret@127.0.0.1:1/test',
        secret: 's3cret',
        unreachableBoundMs: 2_000,
      },
    },
  });
});
