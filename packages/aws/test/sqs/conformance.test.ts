import { brokerSuite } from '@durably/testing';
import { SqsBroker } from '../../src/index.js';
import { REGION, SQS_ENDPOINT, uniqueName } from '../harness.js';

// fauxqs runs in the test process (started by the global setup); each harness has its own queue prefix.
// SQS counts receives, not deliveries: see approximateDeliveryCount.
brokerSuite(
  'sqs',
  async () => {
    const prefix = uniqueName('conf');
    return { connect: async () => new SqsBroker({ prefix, endpoint: SQS_ENDPOINT, region: REGION }) };
  },
  { approximateDeliveryCount: true },
);

brokerSuite(
  'sqs fifo',
  async () => {
    const prefix = uniqueName('conf');
    return { connect: async () => new SqsBroker({ prefix, endpoint: SQS_ENDPOINT, region: REGION, fifo: true }) };
  },
  { approximateDeliveryCount: true },
);
