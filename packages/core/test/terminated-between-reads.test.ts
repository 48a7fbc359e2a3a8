import { expect, it } from 'vitest';
import { Client, MemoryBroker, MemoryStorage, Worker, sleep, workflow, type RunRecord, type Storage } from '../src/index.js';
import { publishTask } from '../src/runtime/tasks/publish.js';
import { brokerQueue } from '../src/runtime/tasks/messages.js';

const napper = workflow('race.napper', async () => {
  await sleep(60_000);
  return 'woke';
});

/**
 * A run terminated between the worker reading its record and reading its log: the record still says
 * pending, the log ends with run_cancelled. The log wins: the worker writes nothing after the end.
 */
it('leaves alone a run whose log has ended even if its record, read a moment earlier, says pending', async () => {
  const inner = new MemoryStorage();
  const broker = new MemoryBroker();
  const setup = new Client({ storage: inner, broker });
  const { runId } = await setup.startSerialized(napper.definition.name, 'default', '[[]]', {});
  const stale = (await inner.getRun(runId)) as RunRecord;
  const ended = await setup.appendExternal(runId, 'run_cancelled', { reason: 'the parent run ended' }, { run: { status: 'cancelled', finishedAt: Date.now() } });
  expect(ended.ok).toBe(true);
  // Every read of the record returns the snapshot from before the termination.
  const storage: Storage = Object.assign(Object.create(inner) as Storage, { getRun: async (id: string) => (id === runId ? stale : inner.getRun(id)) });
  const client = new Client({ storage, broker });
  const worker = new Worker(client, { workflows: [napper], localTimerWindow: 0 });
  await worker.start();
  await publishTask(broker, brokerQueue('default'), { v: 1, kind: 'run', runId, reason: 'start' }, 0);
  const deadline = Date.now() + 2000;
  await new Promise((r) => setTimeout(r, 50));
  while (worker.busy && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  await worker.stop();
  expect((await inner.readEvents(runId)).map((e) => e.type)).toEqual(['run_created', 'run_cancelled']);
  expect((await inner.getRun(runId))!.status).toBe('cancelled');
});
