import { randomUUID } from 'node:crypto';
import { PutItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeEvent, type Storage, type Timer } from '@durably/core';
import { DynamoStorage } from '../../src/index.js';
import { DYNAMODB_ENDPOINT, REGION, dropTable, dynamoAvailable, dynamoClient, uniqueName } from '../harness.js';

// Timers are spread over shard partitions of the due-time index and claimed with leases.
const available = dynamoAvailable();

describe.skipIf(!available)('dynamodb timers', () => {
  const table = uniqueName('durably-timers');
  const clients: DynamoStorage[] = [];
  beforeAll(async () => {
    clients.push(await DynamoStorage.create({ table, endpoint: DYNAMODB_ENDPOINT, region: REGION }));
    for (let i = 0; i < 2; i++) clients.push(new DynamoStorage({ table, endpoint: DYNAMODB_ENDPOINT, region: REGION }));
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await dropTable(table);
  });

  async function runWithTimers(s: Storage, timers: Array<{ timerId: string; fireAt: number }>): Promise<string> {
    const runId = randomUUID();
    await s.createRun({ runId, workflow: 'timers', queue: 'default', args: '[]', createdAt: Date.now(), firstEvent: makeEvent(runId, 1, 'run_created', { workflow: 'timers', args: '[]', queue: 'default' }) });
    await s.append({ runId, expectedSeq: 1, events: [], setTimers: timers.map((t) => ({ runId, ...t })) });
    return runId;
  }

  it('spreads timers over every shard and gives each of 240 to exactly one of three claimers, in due order', { timeout: 120_000 }, async () => {
    const [a] = clients;
    await Promise.all(Array.from({ length: 24 }, (_, r) => runWithTimers(a, Array.from({ length: 10 }, (_, i) => ({ timerId: `t${i}`, fireAt: 10_000 + r * 10 + i })))));
    const client = dynamoClient();
    const { Items } = await client.send(new ScanCommand({ TableName: table, FilterExpression: 'begins_with(dk, :t)', ExpressionAttributeValues: { ':t': { S: 'T#' } } }));
    client.destroy();
    const perShard = new Map<string, number>();
    for (const i of Items ?? []) perShard.set(i.dk.S!, (perShard.get(i.dk.S!) ?? 0) + 1);
    expect([...perShard.keys()].sort()).toEqual(['T#0', 'T#1', 'T#2', 'T#3']);
    for (const n of perShard.values()) expect(n).toBeLessThan(120); // no shard holds half of the 240

    const got: Timer[][] = [[], [], []];
    await Promise.all(
      clients.map(async (c, i) => {
        for (let empty = 0; empty < 2; ) {
          const batch = await c.claimDueTimers(20_000, { limit: 20, leaseMs: 60_000 });
          expect(batch.map((t) => t.fireAt)).toEqual([...batch.map((t) => t.fireAt)].sort((x, y) => x - y));
          got[i].push(...batch);
          empty = batch.length === 0 ? empty + 1 : 0;
        }
      }),
    );
    const keys = got.flat().map((t) => `${t.runId}/${t.timerId}`);
    expect(keys).toHaveLength(240);
    expect(new Set(keys).size).toBe(240);
    // The lease holds, then runs out.
    expect(await a.claimDueTimers(20_000, { limit: 1000, leaseMs: 60_000 })).toEqual([]);
    expect(await a.claimDueTimers(90_000, { limit: 1000, leaseMs: 60_000 })).toHaveLength(240);
  });

  it('fires a timer written ahead of its append only once that append committed, and drops one whose append never did', async () => {
    const [a] = clients;
    const runId = await runWithTimers(a, [{ timerId: 'real', fireAt: 50 }]);
    const client = dynamoClient();
    const staged = (timerId: string, gs: number, sw: number) =>
      client.send(
        new PutItemCommand({
          TableName: table,
          Item: { pk: { S: `R#${runId}` }, sk: { S: `T#${timerId}` }, id: { S: runId }, ti: { S: timerId }, ft: { N: '60' }, dt: { N: '60' }, dk: { S: 'T#0' }, sg: { S: `tok-${timerId}` }, gs: { N: String(gs) }, sw: { N: String(sw) } },
        }),
      );
    await staged('committed', 1, Date.now() - 120_000); // the run's log is at seq 1
    await staged('in-flight', 2, Date.now());
    await staged('abandoned', 2, Date.now() - 120_000);
    client.destroy();
    const claimed = (await a.claimDueTimers(100, { limit: 100, leaseMs: 1 })).filter((t) => t.runId === runId);
    expect(claimed.map((t) => t.timerId).sort()).toEqual(['committed', 'real']);
    expect((await a.listTimers(runId)).map((t) => t.timerId).sort()).toEqual(['committed', 'in-flight', 'real']);
  });
});
