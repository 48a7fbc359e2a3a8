import { brokerSuite, type Capabilities } from '@durably/testing';
import { SqsBroker } from '../../src/index.js';
import { REGION, SQS_ENDPOINT, uniqueName } from '../harness.js';

// fauxqs runs in the test process (started by the global setup); each harness has its own queue prefix.
// SQS counts receives, not deliveries (ApproximateReceiveCount); it cannot delete one message of a queue
// by id; a standard queue delays in whole seconds (rounded up), a FIFO queue's consumer holds an early
// message back until it is due, also in whole seconds of visibility.
const capabilities: Partial<Capabilities> = {
  deadLetters: true,
  removeDeadLetter: false,
  exactDeliveryCount: false,
  redeliversOnDisconnect: false,
  delayPrecisionMs: 1000,
};
brokerSuite(
  'sqs',
  async () => {
    const prefix = uniqueName('conf');
    return { connect: async () => new SqsBroker({ prefix, endpoint: SQS_ENDPOINT, region: REGION }) };
  },
  { capabilities },
);

brokerSuite(
  'sqs fifo',
  async () => {
    const prefix = uniqueName('conf');
    return { connect: async () => new SqsBroker({ prefix, endpoint: SQS_ENDPOINT, region: REGION, fifo: true }) };
  },
  { capabilities },
);
