import { describe } from 'vitest';
import { brokerSuite } from '@durably/testing';
import { brokers, serverAvailable } from './harness.js';

const available = await serverAvailable();

describe.skipIf(!available)('rabbitmq broker', () => {
  // The server returns a closed connection's deliveries at once (in about 30-50 ms), not after a
  // visibility timeout.
  brokerSuite('rabbitmq (quorum)', async () => brokers(), { redeliversOnDisconnect: true });
  brokerSuite('rabbitmq (classic)', async () => brokers({ queueType: 'classic' }), { redeliversOnDisconnect: true });
});
