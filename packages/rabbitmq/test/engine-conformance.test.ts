import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { describe } from 'vitest';
import { MemoryStorage } from '@durably/core';
import { PostgresStorage } from '@durably/postgres';
import { engineSuite, type Capabilities } from '@durably/testing';
import { brokers, serverAvailable } from './harness.js';

const available = await serverAvailable();
const PG_URL = process.env.DURABLY_TEST_POSTGRES_URL ?? 'postgres://root@127.0.0.1:5432/test';

// RabbitMQ returns a closed connection's deliveries at once and cannot delete one dead letter by id.
// Each pair adds its storage's: Postgres pushes finished runs, memory storage does not.
const rabbit: Omit<Capabilities, 'subscribeFinished'> = {
  serverTime: true,
  deadLetters: true,
  removeDeadLetter: false,
  workerLossRecovery: true,
  exactDeliveryCount: true,
  redeliversOnDisconnect: true,
  delayPrecisionMs: 0,
};

describe.skipIf(!available)('rabbitmq engine', () => {
  // The engine on RabbitMQ with both queue types: quorum queues with Postgres storage, classic ones with
  // memory storage. The local file storage with RabbitMQ is run end to end by the onboarding app's test
  // (apps/onboarding/test/amqp.test.ts) and measured by the bench, so it is not a third pass here.
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

  engineSuite('memory+rabbitmq (classic queues)', async () => {
    const amqp = brokers({ queueType: 'classic' });
    const storage = new MemoryStorage();
    return { connect: async () => ({ storage, broker: await amqp.connect() }), cleanup: () => amqp.cleanup() };
  }, { capabilities: { ...rabbit, subscribeFinished: false } });
});
