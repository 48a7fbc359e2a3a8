import { describe } from 'vitest';
import { MemoryStorage } from '@durably/core';
import { engineSuite } from '@durably/testing';
import { rabbit } from './capabilities.js';
import { brokers, serverAvailable } from './harness.js';

const available = await serverAvailable();

// The engine on RabbitMQ with classic queues (delivery counted by the adapter, not by the server), with
// memory storage; quorum queues with Postgres storage are in engine-postgres.test.ts.
describe.skipIf(!available)('rabbitmq engine', () => {
  engineSuite('memory+rabbitmq (classic queues)', async () => {
    const amqp = brokers({ queueType: 'classic' });
    const storage = new MemoryStorage();
    return { connect: async () => ({ storage, broker: await amqp.connect() }), cleanup: () => amqp.cleanup() };
  }, { capabilities: { ...rabbit, subscribeFinished: false } });
});
