import { describe } from 'vitest';
import { engineSuite } from '@durably/testing';
import { DynamoStorage, SqsBroker } from '../../src/index.js';
import { DYNAMODB_ENDPOINT, REGION, SQS_ENDPOINT, dropTable, dynamoAvailable, uniqueName } from '../harness.js';
import { capabilities } from './capabilities.js';

const available = dynamoAvailable();

// The engine suite on DynamoDB storage and the SQS broker; the storage suite is in storage-conformance.test.ts.
describe.skipIf(!available)('dynamodb adapter', () => {
  engineSuite('dynamodb+sqs', async () => {
    const table = uniqueName('durably-engine');
    const prefix = uniqueName('engine');
    return {
      connect: async () => ({
        storage: new DynamoStorage({ table, endpoint: DYNAMODB_ENDPOINT, region: REGION }),
        broker: new SqsBroker({ prefix, endpoint: SQS_ENDPOINT, region: REGION }),
      }),
      cleanup: () => dropTable(table),
    };
  }, { capabilities });
});
