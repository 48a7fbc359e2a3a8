import { describe } from 'vitest';
import { ScanCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { hookIndexAtRestTest, storageSuite } from '@durably/testing';
import { DynamoStorage, SqsBroker } from '../../src/index.js';
import { DYNAMODB_ENDPOINT, REGION, SQS_ENDPOINT, dropTable, dynamoAvailable, dynamoClient, uniqueName } from '../harness.js';
import { capabilities } from './capabilities.js';

const available = dynamoAvailable();

// The storage suite and the hook index at rest; the engine suite is in engine-conformance.test.ts (a
// file of its own, so that the two run side by side).
describe.skipIf(!available)('dynamodb adapter', () => {
  // A table per harness (DynamoDB Local creates one in milliseconds), dropped after.
  storageSuite('dynamodb', async () => {
    const table = uniqueName('durably-conf');
    return { connect: async () => new DynamoStorage({ table, endpoint: DYNAMODB_ENDPOINT, region: REGION }), cleanup: () => dropTable(table) };
  }, { capabilities });

  // The hook index as the table holds it: the hook items and the runs' pointers to them (keys starting with H#).
  hookIndexAtRestTest('dynamodb', async () => {
    const table = uniqueName('durably-hooks');
    const prefix = uniqueName('hooks');
    return {
      connect: async () => ({
        storage: new DynamoStorage({ table, endpoint: DYNAMODB_ENDPOINT, region: REGION }),
        broker: new SqsBroker({ prefix, endpoint: SQS_ENDPOINT, region: REGION }),
      }),
      readHookIndex: async () => {
        const client = dynamoClient();
        try {
          const rows: string[] = [];
          let start: Record<string, AttributeValue> | undefined;
          do {
            const page = await client.send(new ScanCommand({ TableName: table, ExclusiveStartKey: start, ConsistentRead: true }));
            for (const item of page.Items ?? []) if (item.pk?.S?.startsWith('H#') || item.sk?.S?.startsWith('H#')) rows.push(JSON.stringify(item));
            start = page.LastEvaluatedKey;
          } while (start);
          return rows;
        } finally {
          client.destroy();
        }
      },
      cleanup: () => dropTable(table),
    };
  });
});
