import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeEvent, type NewRun } from '@durably/core';
import { DynamoStorage } from '../../src/index.js';
import { DYNAMODB_ENDPOINT, REGION, dropTable, dynamoAvailable, uniqueName } from '../harness.js';

// The createRun semantics being adopted by every storage: an existing runId returns that run, and
// idempotency keys are unique per (workflow, key). The shared suite checks the first on its own.
const available = dynamoAvailable();

describe.skipIf(!available)('dynamodb createRun: existing ids and keys scoped by workflow', () => {
  const table = uniqueName('durably-contract');
  let a: DynamoStorage;
  let b: DynamoStorage;
  beforeAll(async () => {
    a = await DynamoStorage.create({ table, endpoint: DYNAMODB_ENDPOINT, region: REGION });
    b = new DynamoStorage({ table, endpoint: DYNAMODB_ENDPOINT, region: REGION });
  });
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await dropTable(table);
  });

  const newRun = (overrides: Partial<NewRun> = {}): NewRun => {
    const runId = overrides.runId ?? randomUUID();
    const workflow = overrides.workflow ?? 'wf.a';
    return { runId, workflow, queue: 'default', args: '[[1]]', createdAt: Date.now(), firstEvent: makeEvent(runId, 1, 'run_created', { workflow, args: '[[1]]', queue: 'default' }), ...overrides };
  };

  it('gives exactly one of 10 concurrent creates with one runId created: true, and the others that run', async () => {
    const runId = randomUUID();
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).createRun(newRun({ runId, args: `[[${i}]]` }))));
    expect(results.filter((r) => r.created)).toHaveLength(1);
    const winner = results.find((r) => r.created)!.run;
    for (const r of results) expect(r.run).toEqual(winner);
    expect((await a.readEvents(runId)).map((e) => e.seq)).toEqual([1]);
  });

  it('scopes idempotency keys by workflow: one key, two workflows, two runs; racing creates of one workflow, one run', async () => {
    const key = `k-${randomUUID()}`;
    const first = await a.createRun(newRun({ workflow: 'wf.a', idempotencyKey: key }));
    const other = await b.createRun(newRun({ workflow: 'wf.b', idempotencyKey: key }));
    expect(first.created && other.created).toBe(true);
    expect(other.run.runId).not.toBe(first.run.runId);
    const again = await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 ? a : b).createRun(newRun({ workflow: 'wf.b', idempotencyKey: key }))));
    expect(again.every((r) => !r.created && r.run.runId === other.run.runId)).toBe(true);
  });
});
