import { CreateTableCommand, DescribeTableCommand, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, describe, expect, it } from 'vitest';
import { StorageError } from '@durably/core';
import { DynamoStorage } from '../../src/index.js';
import { inPrivateNetwork } from '../setup/servers.js';
import { DYNAMODB_ENDPOINT, REGION, dropTable, dynamoAvailable, dynamoClient, uniqueName } from '../harness.js';

const available = dynamoAvailable();

describe.skipIf(!available)('dynamodb table set-up', () => {
  const tables: string[] = [];
  const name = (p: string) => {
    const t = uniqueName(p);
    tables.push(t);
    return t;
  };
  afterAll(async () => {
    await Promise.all(tables.map(dropTable));
  });

  it('runs DynamoDB Local only inside a private network namespace, on loopback', async () => {
    expect(inPrivateNetwork()).toBe(true);
    expect(new URL(DYNAMODB_ENDPOINT).hostname).toBe('127.0.0.1');
    const client = dynamoClient();
    expect(Array.isArray((await client.send(new ListTablesCommand({}))).TableNames)).toBe(true);
    client.destroy();
  });

  it('creates the table on demand with every index, once, however many clients migrate at once; the first sets the shard count', async () => {
    const table = name('durably-setup');
    const stores = [new DynamoStorage({ table, endpoint: DYNAMODB_ENDPOINT, region: REGION, shards: 8 }), new DynamoStorage({ table, endpoint: DYNAMODB_ENDPOINT, region: REGION, shards: 8 })];
    await Promise.all(stores.map((s) => s.migrate()));
    const client = dynamoClient();
    const { Table } = await client.send(new DescribeTableCommand({ TableName: table }));
    client.destroy();
    expect(Table!.BillingModeSummary?.BillingMode ?? 'PAY_PER_REQUEST').toBe('PAY_PER_REQUEST');
    expect(Table!.KeySchema!.map((k) => k.AttributeName)).toEqual(['pk', 'sk']);
    expect(Table!.GlobalSecondaryIndexes!.map((i) => i.IndexName).sort()).toEqual(['gal', 'gdue', 'gfin', 'gpa', 'gst', 'gtg', 'gwf']);
    // A later client asking for 2 shards uses the table's 8: every client must agree.
    const later = new DynamoStorage({ table, endpoint: DYNAMODB_ENDPOINT, region: REGION, shards: 2 });
    await later.migrate();
    await later.saveSchedule({ scheduleId: 's1', workflow: 'w', queue: 'default', args: '[]', spec: { everyMs: 1000 }, overlap: 'skip', catchUp: 'none', paused: false, nextFireAt: 5, createdAt: 1, updatedAt: 1, version: 1 });
    const claimed = await stores[0].claimDueSchedules(10, { limit: 10, leaseMs: 1000 });
    expect(claimed.map((s) => s.scheduleId)).toEqual(['s1']);
    await Promise.all([...stores, later].map((s) => s.close()));
  });

  it('uses an existing table and adds the indexes it lacks', async () => {
    const table = name('durably-existing');
    const client = dynamoClient();
    await client.send(
      new CreateTableCommand({
        TableName: table,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
        ],
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
      }),
    );
    const s = await DynamoStorage.create({ table, endpoint: DYNAMODB_ENDPOINT, region: REGION });
    const { Table } = await client.send(new DescribeTableCommand({ TableName: table }));
    client.destroy();
    expect(Table!.GlobalSecondaryIndexes).toHaveLength(7);
    expect((await s.listRuns({})).runs).toEqual([]);
    await s.close();
  });

  it('says what to do when the table is missing and creation is off, or its keys are not Durably’s', async () => {
    const missing = new DynamoStorage({ table: name('durably-missing'), endpoint: DYNAMODB_ENDPOINT, region: REGION, createTable: false });
    const error = await missing.migrate().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StorageError);
    expect((error as Error).message).toMatch(/does not exist, and table creation is off/);
    const table = name('durably-foreign');
    const client = dynamoClient();
    await client.send(
      new CreateTableCommand({ TableName: table, BillingMode: 'PAY_PER_REQUEST', AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }] }),
    );
    client.destroy();
    const foreign = new DynamoStorage({ table, endpoint: DYNAMODB_ENDPOINT, region: REGION });
    await expect(foreign.migrate()).rejects.toThrow(/needs pk \(HASH, string\) and sk/);
    // Before migrate(), an operation on a table that is not set up says so.
    await expect(missing.listRuns({})).rejects.toThrow(StorageError);
    await Promise.all([missing.close(), foreign.close()]);
  });
});
