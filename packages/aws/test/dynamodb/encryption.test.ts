import { randomBytes } from 'node:crypto';
import { describe } from 'vitest';
import { ScanCommand, type ScanCommandOutput } from '@aws-sdk/client-dynamodb';
import { aesGcmCodec } from '@durably/core';
import { encryptionSuite, engineSuite, type RawLocation } from '@durably/testing';
import { DynamoStorage, SqsBroker } from '../../src/index.js';
import { DYNAMODB_ENDPOINT, REGION, SQS_ENDPOINT, dropTable, dynamoAvailable, dynamoClient, uniqueName } from '../harness.js';
import { capabilities } from './capabilities.js';

const available = dynamoAvailable();

function backends(table: string, prefix: string) {
  return { storage: new DynamoStorage({ table, endpoint: DYNAMODB_ENDPOINT, region: REGION }), broker: new SqsBroker({ prefix, endpoint: SQS_ENDPOINT, region: REGION }) };
}

/** Every item of the table (a full Scan with the SDK, around the adapter), one location each. */
async function dump(table: string): Promise<RawLocation[]> {
  const client = dynamoClient();
  try {
    const out: RawLocation[] = [];
    let start: ScanCommandOutput['LastEvaluatedKey'];
    do {
      const page = await client.send(new ScanCommand({ TableName: table, ExclusiveStartKey: start, ConsistentRead: true }));
      for (const item of page.Items ?? []) {
        const pk = item.pk?.S ?? '?';
        const sk = item.sk?.S ?? '?';
        // The hook index entry (H#<token>, H) and the run's pointer to it (R#<runId>, H#<token>), which retention follows.
        out.push({ where: `item ${pk} ${sk}`, text: JSON.stringify(item) });
      }
      start = page.LastEvaluatedKey;
    } while (start);
    return out;
  } finally {
    client.destroy();
  }
}

describe.skipIf(!available)('dynamodb adapter, encrypted', () => {
  engineSuite('dynamodb+sqs, encrypted', async () => {
    const table = uniqueName('durably-enc-engine');
    const prefix = uniqueName('enc-engine');
    return { connect: async () => backends(table, prefix), cleanup: () => dropTable(table) };
  }, { capabilities, codec: aesGcmCodec({ keys: { k1: randomBytes(32) } }), areas: ['basics', 'steps', 'hooks', 'messages', 'children'] });

  encryptionSuite('dynamodb', async () => {
    const table = uniqueName('durably-enc');
    const prefix = uniqueName('enc');
    return { connect: async () => backends(table, prefix), dump: () => dump(table), cleanup: () => dropTable(table) };
  });
});
