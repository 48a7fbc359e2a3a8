import { randomBytes } from 'node:crypto';
import { DeleteTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { inject } from 'vitest';

export const DYNAMODB_ENDPOINT = inject('dynamodbEndpoint');
export const SQS_ENDPOINT = inject('sqsEndpoint');
export const REGION = 'us-east-1';

/**
 * True when DynamoDB Local runs for this test run. Outside a private network namespace it does not
 * (npm run test:dynamodb runs these files inside one): the DynamoDB tests then skip, except under
 * CI=true, where they must run and so fail.
 */
export function dynamoAvailable(): boolean {
  if (DYNAMODB_ENDPOINT) return true;
  if (process.env.CI) throw new Error('DynamoDB Local is not running: DynamoDB tests run inside a private network namespace (npm run test:dynamodb).');
  return false;
}

export const uniqueName = (prefix: string) => `${prefix}-${randomBytes(5).toString('hex')}`;

export function dynamoClient(): DynamoDBClient {
  return new DynamoDBClient({ endpoint: DYNAMODB_ENDPOINT, region: REGION });
}

export async function dropTable(table: string): Promise<void> {
  const client = dynamoClient();
  try {
    await client.send(new DeleteTableCommand({ TableName: table })).catch((err: { name?: string }) => {
      if (err.name !== 'ResourceNotFoundException') throw err;
    });
  } finally {
    client.destroy();
  }
}
