import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { describe } from 'vitest';
import { PostgresStorage } from '@durably/postgres';
import { engineSuite } from '@durably/testing';
import { rabbit } from './capabilities.js';
import { brokers, serverAvailable } from './harness.js';

const available = await serverAvailable();
const PG_URL = process.env.DURABLY_TEST_POSTGRES_URL ?? 'postgres://root@127.0.0.1:5432/test';

// The engine on RabbitMQ with quorum queues (the default) and Postgres storage. Classic queues run with
// memory storage in engine-memory-classic.test.ts (a file of its own, so the two run side by side). The
// local file storage with RabbitMQ is run end to end by the onboarding app's test
// (apps/onboarding/test/amqp.test.ts) and measured by the bench, so it is not a third pass here.
describe.skipIf(!available)('rabbitmq engine', () => {
  engineSuite('postgres+rabbitmq', async () => {
    const amqp = brokers();
    const schema = `durably_t_${randomBytes(6).toString('hex')}`;
    return {
      connect: async () => ({ storage: new PostgresStorage({ url: PG_URL, schema, max: 4 }), broker: await amqp.connect() }),
      cleanup: async () => {
        await amqp.cleanup();
        const client = new pg.Client({ connectionString: PG_URL });
        await client.connect();
        await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).finally(() => client.end());
      },
    };
  }, { capabilities: { ...rabbit, subscribeFinished: true } });
});
