import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { describe } from 'vitest';
import { LocalStorage, MemoryStorage } from '@durably/core';
import { PostgresStorage } from '@durably/postgres';
import { brokerSuite, engineSuite } from '@durably/testing';
import { brokers, serverAvailable } from './harness.js';

const available = await serverAvailable();
const PG_URL = process.env.DURABLY_TEST_POSTGRES_URL ?? 'postgres://root@127.0.0.1:5432/test';

describe.skipIf(!available)('rabbitmq adapter', () => {
  // The server returns a closed connection's deliveries at once (in about 30-50 ms), not after a
  // visibility timeout.
  brokerSuite('rabbitmq (quorum)', async () => brokers(), { redeliversOnDisconnect: true });
  brokerSuite('rabbitmq (classic)', async () => brokers({ queueType: 'classic' }), { redeliversOnDisconnect: true });

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
  });

  engineSuite('local+rabbitmq', async () => {
    const amqp = brokers();
    const dir = mkdtempSync(join(tmpdir(), 'durably-amqp-'));
    return {
      connect: async () => ({ storage: new LocalStorage({ path: dir }), broker: await amqp.connect() }),
      cleanup: async () => {
        await amqp.cleanup();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  });

  engineSuite('memory+rabbitmq (classic queues)', async () => {
    const amqp = brokers({ queueType: 'classic' });
    const storage = new MemoryStorage();
    return { connect: async () => ({ storage, broker: await amqp.connect() }), cleanup: () => amqp.cleanup() };
  });
});
