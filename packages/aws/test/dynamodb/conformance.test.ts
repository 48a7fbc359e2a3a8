import { describe } from 'vitest';
import { storageSuite } from '@durably/testing';
import { DynamoStorage } from '../../src/index.js';
import { DYNAMODB_ENDPOINT, REGION, dropTable, dynamoAvailable, uniqueName } from '../harness.js';

const available = dynamoAvailable();

describe.skipIf(!available)('dynamodb adapter', () => {
  storageSuite('dynamodb', async () => {
    const table = uniqueName('durably-conf');
    return { connect: async () => new DynamoStorage({ table, endpoint: DYNAMODB_ENDPOINT, region: REGION }), cleanup: () => dropTable(table) };
  }, { existingRunId: 'returns-existing' });
});
