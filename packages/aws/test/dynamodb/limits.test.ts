import { randomUUID } from 'node:crypto';
import { ScanCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppendConflictError, StorageError, makeEvent, type DurablyEvent, type NewRun } from '@durably/core';
import { DynamoStorage } from '../../src/index.js';
import { DYNAMODB_ENDPOINT, REGION, dropTable, dynamoAvailable, dynamoClient, uniqueName } from '../harness.js';

// DynamoDB's limits (400 KB items; 100 items and 4 MB per transaction) against payloads up to the
// engine's 1 MiB limit and appends of many events, timers and hooks.
const available = dynamoAvailable();

/** An item's size as DynamoDB counts it: names plus values (numbers ~ 1 byte per 2 digits). */
function bytes(v: AttributeValue): number {
  if (v.S !== undefined) return Buffer.byteLength(v.S);
  if (v.N !== undefined) return Math.ceil(v.N.length / 2) + 1;
  if (v.SS) return v.SS.reduce((n, s) => n + Buffer.byteLength(s), 0);
  if (v.L) return 3 + v.L.reduce((n, x) => n + 1 + bytes(x), 0);
  if (v.M) return 3 + Object.entries(v.M).reduce((n, [k, x]) => n + 1 + Buffer.byteLength(k) + bytes(x), 0);
  return 1;
}
const itemBytes = (item: Record<string, AttributeValue>) => Object.entries(item).reduce((n, [k, v]) => n + Buffer.byteLength(k) + bytes(v), 0);

// Each test writes hundreds of items or megabytes through DynamoDB Local, whose transactions take seconds
// on a loaded machine: what is tested is what is stored, so the timeout leaves room.
describe.skipIf(!available)('dynamodb limits', { timeout: 120_000 }, () => {
  const table = uniqueName('durably-limits');
  let s: DynamoStorage;
  let other: DynamoStorage;
  beforeAll(async () => {
    s = await DynamoStorage.create({ table, endpoint: DYNAMODB_ENDPOINT, region: REGION });
    other = new DynamoStorage({ table, endpoint: DYNAMODB_ENDPOINT, region: REGION });
  });
  afterAll(async () => {
    await Promise.all([s?.close(), other?.close()]);
    await dropTable(table);
  });

  const newRun = (args = '[[1]]'): NewRun => {
    const runId = randomUUID();
    return { runId, workflow: 'limits', queue: 'default', args, createdAt: Date.now(), firstEvent: makeEvent(runId, 1, 'run_created', { workflow: 'limits', args, queue: 'default' }) };
  };
  const stepEvent = (runId: string, seq: number, result: string): DurablyEvent => makeEvent(runId, seq, 'step_completed', { name: 'big', attempt: 1, result }, String(seq));

  async function largestItem(): Promise<number> {
    const client = dynamoClient();
    let max = 0;
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = await client.send(new ScanCommand({ TableName: table, ExclusiveStartKey: start }));
      for (const i of page.Items ?? []) max = Math.max(max, itemBytes(i));
      start = page.LastEvaluatedKey;
    } while (start);
    client.destroy();
    return max;
  }

  it('stores 1 MiB arguments, results and event payloads in chunks, every item under 400 KB, and reads them back whole', async () => {
    const mib = '"' + 'é'.repeat(512 * 1024 - 1) + '"'; // 1 MiB of UTF-8
    const { run } = await s.createRun(newRun(mib));
    expect(run.args).toBe(mib);
    await s.append({ runId: run.runId, expectedSeq: 1, events: [stepEvent(run.runId, 2, mib), stepEvent(run.runId, 3, '"small"')], run: { status: 'completed', result: mib, finishedAt: Date.now() } });
    const back = (await other.getRun(run.runId))!;
    expect(back.args).toBe(mib);
    expect(back.result).toBe(mib);
    const events = await other.readEvents(run.runId);
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect((events[0].data as { args: string }).args).toBe(mib);
    expect((events[1].data as { result: string }).result).toBe(mib);
    expect((await other.readEvents(run.runId, 2, 1)).map((e) => e.seq)).toEqual([2]);
    expect((await other.listRuns({ workflow: 'limits' })).runs.find((r) => r.runId === run.runId)!.result).toBe(mib);
    expect(await largestItem()).toBeLessThan(400 * 1024);
  });

  it('appends 150 events of 30 KB (4.5 MB, over a transaction) atomically, and reads any range of them', async () => {
    const { run } = await s.createRun(newRun());
    const chunk = '"' + 'x'.repeat(30 * 1024) + '"';
    const events = Array.from({ length: 150 }, (_, i) => stepEvent(run.runId, i + 2, chunk));
    await s.append({ runId: run.runId, expectedSeq: 1, events });
    expect((await other.getRun(run.runId))!.lastSeq).toBe(151);
    const all = await other.readEvents(run.runId);
    expect(all.map((e) => e.seq)).toEqual(Array.from({ length: 151 }, (_, i) => i + 1));
    expect(all.slice(1).every((e) => (e.data as { result: string }).result === chunk)).toBe(true);
    expect((await other.readEvents(run.runId, 100, 3)).map((e) => e.seq)).toEqual([100, 101, 102]);
    await expect(other.append({ runId: run.runId, expectedSeq: 1, events: [stepEvent(run.runId, 2, '"late"')] })).rejects.toBeInstanceOf(AppendConflictError);
  });

  it('sets 250 timers, clears 120 and indexes 60 hooks in one append (more than 100 items), and a losing append leaves nothing', async () => {
    const { run } = await s.createRun(newRun());
    const timers = (from: number, n: number, at: number) => Array.from({ length: n }, (_, i) => ({ runId: run.runId, timerId: `t${from + i}`, fireAt: at + i }));
    await s.append({ runId: run.runId, expectedSeq: 1, events: [stepEvent(run.runId, 2, '"a"')], setTimers: timers(0, 120, 5_000) });
    const hooks = Array.from({ length: 60 }, (_, i) => ({ token: `tok-${run.runId}-${i}`, runId: run.runId, correlationId: String(i), name: 'h', createdAt: 1 }));
    await s.append({ runId: run.runId, expectedSeq: 2, events: [stepEvent(run.runId, 3, '"b"')], setTimers: timers(1000, 250, 9_000), clearTimers: timers(0, 120, 0).map((t) => t.timerId), setHooks: hooks });
    const listed = await other.listTimers(run.runId);
    expect(listed).toHaveLength(250);
    expect(listed.every((t) => t.timerId.startsWith('t1'))).toBe(true);
    for (const h of hooks) expect(await other.getHook(h.token)).toEqual(h);

    // A loser writes ahead the timers that do not fit, then must take them back, but never one that
    // an earlier append committed: t1000 keeps its fireAt although the loser tried to move it.
    const lost = await other
      .append({ runId: run.runId, expectedSeq: 2, events: [stepEvent(run.runId, 3, '"c"')], setTimers: [...timers(5000, 150, 1), { runId: run.runId, timerId: 't1000', fireAt: 1 }] })
      .catch((e: unknown) => e);
    expect(lost).toBeInstanceOf(AppendConflictError);
    const after = await s.listTimers(run.runId);
    expect(after).toHaveLength(250);
    expect(after.find((t) => t.timerId === 't1000')!.fireAt).toBe(9_000);
    const due = await s.claimDueTimers(1_000_000, { limit: 1000, leaseMs: 1000 });
    expect(due.filter((t) => t.runId === run.runId)).toHaveLength(250);
  });

  it('refuses with a clear error an append whose must-commit-together items exceed a transaction', async () => {
    const { run } = await s.createRun(newRun());
    for (let i = 0; i < 100; i++) expect(await s.acquireSlot(`k-${run.runId}-${i}`, run.runId, 1)).toBe(true);
    const error = await s.append({ runId: run.runId, expectedSeq: 1, events: [], run: { status: 'completed', finishedAt: 1 }, releaseSlots: true }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StorageError);
    expect((error as Error).message).toMatch(/needs 101 items in one DynamoDB transaction \(the limit is 100\)/);
    expect((await s.getRun(run.runId))!.status).toBe('pending');
  });
});
