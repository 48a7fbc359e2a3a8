import { describe } from 'vitest';
import { brokerSuite, type Capabilities } from '@durably/testing';
import { brokers, serverAvailable } from './harness.js';

const available = await serverAvailable();

// The server returns a closed connection's deliveries at once (in about 30-50 ms), not after a
// visibility timeout. AMQP has no way to delete one message of a queue by id.
const capabilities: Partial<Capabilities> = {
  deadLetters: true,
  removeDeadLetter: false,
  exactDeliveryCount: true,
  redeliversOnDisconnect: true,
  delayPrecisionMs: 0,
};

describe.skipIf(!available)('rabbitmq broker', () => {
  brokerSuite('rabbitmq (quorum)', async () => brokers(), { capabilities });
  brokerSuite('rabbitmq (classic)', async () => brokers({ queueType: 'classic' }), { capabilities });
});
