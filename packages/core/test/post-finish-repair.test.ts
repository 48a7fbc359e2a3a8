import { expect, it } from 'vitest';
import { Client, MemoryBroker, MemoryStorage, StorageError, Worker, runChild, sleep, startChildWith, step, waitForSignal, workflow, type AppendRequest, type Storage, type Workflow } from '../src/index.js';

const childBody = step('repair.child-body', async () => 'child done');
const child = workflow('repair.child', async () => childBody());
const parent = workflow('repair.parent', async () => `parent got: ${await runChild(child)}`);
const sleepyChild = workflow('repair.sleepy-child', async () => {
  await sleep(60_000);
  return 'woke';
});
const leaving = workflow('repair.leaving', async () => (await startChildWith(sleepyChild, [], { parentClosePolicy: 'terminate' })).runId);

/** A storage whose appends fail once for the first request `fails` picks (the server away for a moment). */
function failingOnce(inner: MemoryStorage, fails: (r: AppendRequest) => boolean): Storage {
  let failed = false;
  return Object.assign(Object.create(inner) as Storage, {
    append: async (r: AppendRequest) => {
      if (!failed && fails(r)) {
        failed = true;
        throw new StorageError('the storage went away for a moment');
      }
      return inner.append(r);
    },
  });
}

/** Runs `fn` with a client and a started worker on `storage`, and stops the worker after. */
async function withWorker(storage: Storage, workflows: Workflow<any[], any>[], fn: (client: Client) => Promise<void>): Promise<void> {
  const client = new Client({ storage, broker: new MemoryBroker() });
  const worker = new Worker(client, { workflows });
  await worker.start();
  try {
    await fn(client);
  } finally {
    await worker.stop();
  }
}

it('tells the parent that its child finished even when that failed right after the child ended', async () => {
  const storage = failingOnce(new MemoryStorage(), (r) => r.events.some((e) => e.type === 'child_completed'));
  await withWorker(storage, [parent, child], async (client) => {
    const run = await client.start(parent);
    expect(await run.result({ timeout: '10s' })).toBe('parent got: child done');
    expect((await run.events()).filter((e) => e.type === 'child_completed')).toHaveLength(1);
  });
});

it('terminates the children of a finished run even when that failed right after the run ended', async () => {
  const storage = failingOnce(new MemoryStorage(), (r) => r.events.some((e) => e.type === 'run_cancelled'));
  await withWorker(storage, [leaving, sleepyChild], async (client) => {
    const run = await client.start(leaving);
    const childId = (await run.result({ timeout: '10s' })) as string;
    const deadline = Date.now() + 10_000;
    while ((await client.getRun(childId).status()) !== 'cancelled' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(await client.getRun(childId).status()).toBe('cancelled');
    expect((await client.getRun(childId).events()).filter((e) => e.type === 'run_cancelled')).toHaveLength(1);
  });
});

const grandchild = workflow('repair.grandchild', async () => {
  await sleep(60_000);
  return 'woke';
});
const middle = workflow('repair.middle', async () => {
  await startChildWith(grandchild, [], { parentClosePolicy: 'terminate' });
  await sleep(60_000);
  return 'woke';
});
const top = workflow('repair.top', async () => {
  const handle = await startChildWith(middle, [], { parentClosePolicy: 'terminate' });
  await waitForSignal('go'); // the test sends it once the grandchild exists
  return handle.runId;
});

it('terminates grandchildren too: a terminated child runs no code, so its children are closed for it', async () => {
  const storage = new MemoryStorage();
  await withWorker(storage, [top, middle, grandchild], async (client) => {
    const run = await client.start(top);
    const deadline = Date.now() + 10_000;
    const childOf = async (runId: string) => (await storage.listRuns({ parentRunId: runId })).runs[0];
    while (Date.now() < deadline && !(await childOf(run.runId))) await new Promise((r) => setTimeout(r, 10));
    const middleRun = (await childOf(run.runId))!;
    while (Date.now() < deadline && !(await childOf(middleRun.runId))) await new Promise((r) => setTimeout(r, 10));
    const grandchildRun = (await childOf(middleRun.runId))!;
    expect(grandchildRun.workflow).toBe('repair.grandchild');
    await client.sendSignal(run.runId, 'go');
    expect(await run.result({ timeout: '10s' })).toBe(middleRun.runId);
    for (const id of [middleRun.runId, grandchildRun.runId]) {
      while (Date.now() < deadline && (await client.getRun(id).status()) !== 'cancelled') await new Promise((r) => setTimeout(r, 20));
      expect(await client.getRun(id).status()).toBe('cancelled');
    }
  });
});
