import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppendConflictError, type DurablyEvent, type NewRun } from '@durably/contracts';
import { PostgresStorage } from '../src/index.js';
import { PG_URL, dropSchema, serverAvailable, uniqueSchema } from './harness.js';

const available = await serverAvailable();

const event = (runId: string, seq: number, type: string, data: unknown): DurablyEvent => ({ runId, seq, type, at: Date.now(), data }) as DurablyEvent;
const newRun = (runId = randomUUID()): NewRun => ({
  runId,
  workflow: 'batch.wf',
  queue: 'default',
  args: '[]',
  createdAt: Date.now(),
  firstEvent: event(runId, 1, 'run_created', { workflow: 'batch.wf', args: '[]', queue: 'default' }),
});
const done = (runId: string, seq: number) => event(runId, seq, 'step_completed', { name: 's', attempt: 1, result: '[1]' });

// Requests of one turn of the event loop share one statement: what each of them sees must be what
// it would have seen alone.
describe.skipIf(!available)('postgres batched statements', () => {
  const schema = uniqueSchema();
  let storage: PostgresStorage;
  beforeAll(async () => {
    storage = await PostgresStorage.create({ url: PG_URL, schema, max: 4 });
  });
  afterAll(async () => {
    await storage?.close();
    await dropSchema(schema);
  });

  it('a conflicting append in a batch fails alone; the others commit', async () => {
    const runs = await Promise.all(Array.from({ length: 20 }, () => storage.createRun(newRun())));
    expect(runs.every((r) => r.created)).toBe(true);
    const results = await Promise.allSettled(runs.map(({ run }, i) => storage.append({ runId: run.runId, expectedSeq: i === 7 ? 5 : 1, events: [done(run.runId, i === 7 ? 6 : 2)] })));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(19);
    const failed = results[7];
    expect(failed.status === 'rejected' && failed.reason).toBeInstanceOf(AppendConflictError);
    const logs = await Promise.all(runs.map(({ run }) => storage.readEvents(run.runId)));
    logs.forEach((log, i) => expect(log.map((e) => e.seq)).toEqual(i === 7 ? [1] : [1, 2]));
    expect((await storage.getRun(runs[7].run.runId))?.lastSeq).toBe(1);
  });

  it('two appends of one run asked in one turn both commit, in order', async () => {
    const { run } = await storage.createRun(newRun());
    await Promise.all([
      storage.append({ runId: run.runId, expectedSeq: 1, events: [done(run.runId, 2)] }),
      storage.append({ runId: run.runId, expectedSeq: 2, events: [done(run.runId, 3)] }),
    ]);
    expect((await storage.readEvents(run.runId)).map((e) => e.seq)).toEqual([1, 2, 3]);
  });

  it('an append the server rejects fails alone, and writes nothing of its run', async () => {
    const runs = await Promise.all(Array.from({ length: 5 }, () => storage.createRun(newRun())));
    const results = await Promise.allSettled(
      runs.map(({ run }, i) =>
        // A NUL character cannot be stored in text: the whole statement fails, then each append runs alone.
        storage.append({ runId: run.runId, expectedSeq: 1, events: [done(run.runId, 2)], run: i === 2 ? { result: 'bad\u0000value' } : undefined }),
      ),
    );
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect((await storage.readEvents(runs[2].run.runId)).map((e) => e.seq)).toEqual([1]);
    expect((await storage.getRun(runs[2].run.runId))?.lastSeq).toBe(1);
  });

  it('creating one run id twice in one turn creates it once', async () => {
    const runId = randomUUID();
    const [a, b] = await Promise.all([storage.createRun(newRun(runId)), storage.createRun(newRun(runId))]);
    expect([a.created, b.created].sort()).toEqual([false, true]);
    expect((await storage.readEvents(runId)).map((e) => e.seq)).toEqual([1]);
  });

  it('reads of one turn each get their own run and log', async () => {
    const runs = await Promise.all(Array.from({ length: 10 }, () => storage.createRun(newRun())));
    const [records, logs, tails] = await Promise.all([
      Promise.all([...runs.map(({ run }) => storage.getRun(run.runId)), storage.getRun('missing-run')]),
      Promise.all(runs.map(({ run }) => storage.readEvents(run.runId))),
      Promise.all(runs.map(({ run }) => storage.readEvents(run.runId, 2))),
    ]);
    expect(records.map((r) => r?.runId)).toEqual([...runs.map(({ run }) => run.runId), undefined]);
    logs.forEach((log, i) => expect(log.map((e) => [e.runId, e.seq])).toEqual([[runs[i].run.runId, 1]]));
    expect(tails.every((t) => t.length === 0)).toBe(true);
  });
});
