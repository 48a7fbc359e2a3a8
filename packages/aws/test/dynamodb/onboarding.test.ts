import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DynamoStorage } from '../../src/index.js';
import { DYNAMODB_ENDPOINT, REGION, SQS_ENDPOINT, dropTable, dynamoAvailable, uniqueName } from '../harness.js';
import { runOnboarding } from '../onboarding.js';

// The sample app in a process of its own (inside this run's network namespace, with DynamoDB Local),
// configured by DURABLY_STORAGE and DURABLY_BROKER only.
const available = dynamoAvailable();

describe.skipIf(!available)('the onboarding app on DynamoDB', () => {
  const tables: string[] = [];
  const dirs: string[] = [];
  afterAll(async () => {
    await Promise.all(tables.map(dropTable));
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  async function completedRuns(table: string) {
    const storage = new DynamoStorage({ table, endpoint: DYNAMODB_ENDPOINT, region: REGION });
    try {
      return (await storage.listRuns({ workflow: 'onboarding' })).runs.map((r) => r.status);
    } finally {
      await storage.close();
    }
  }

  it('completes on dynamodb + sqs', async () => {
    const table = uniqueName('durably-app');
    tables.push(table);
    const lines = await runOnboarding({
      DURABLY_STORAGE: `dynamodb://${table}?region=${REGION}&endpoint=${DYNAMODB_ENDPOINT}`,
      DURABLY_BROKER: `sqs://${uniqueName('app')}?region=${REGION}&endpoint=${SQS_ENDPOINT}`,
    });
    expect(lines.some((l) => l.includes('woke up'))).toBe(true);
    expect(lines.at(-1)).toBe('result: "Onboarding complete"');
    expect(await completedRuns(table)).toEqual(['completed']);
  });

  it('completes on dynamodb + the local broker', async () => {
    const table = uniqueName('durably-app');
    tables.push(table);
    const dir = mkdtempSync(join(tmpdir(), 'durably-aws-app-'));
    dirs.push(dir);
    const lines = await runOnboarding({ DURABLY_STORAGE: `dynamodb://${table}?region=${REGION}&endpoint=${DYNAMODB_ENDPOINT}`, DURABLY_BROKER: `local:${dir}` });
    expect(lines.at(-1)).toBe('result: "Onboarding complete"');
    expect(await completedRuns(table)).toEqual(['completed']);
  });
});
