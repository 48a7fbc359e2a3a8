import { expect, it } from 'vitest';
import { Client, MemoryBroker, MemoryStorage, StorageError, Worker, runChild, sleep, startChildWith, step, workflow, type AppendRequest, type Storage } from '../src/index.js';

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

it('tells the parent that its child finished even when that failed right after the child ended', async () => {
  const inner = new MemoryStorage();
  const storage = failingOnce(inner, (r) => r.events.some((e) => e.type === 'child_completed'));
  const client = new Client({ storage, broker: new MemoryBroker() });
  const worker = new Worker(client, { workflows: [parent, child] });
  await worker.start();
  try {
    const run = await client.start(parent);
    expect(await run.result({ timeout: '10s' })).toBe('parent got: child done');
    expect((await run.events()).filter((e) => e.type === 'child_completed')).toHaveLength(1);
  } finally {
    await worker.stop();
  }
});

it('terminates the children of a finished run even when that failed right after the run ended', async () => {
  const inner = new MemoryStorage();
  const storage = failingOnce(inner, (r) => r.events.some((e) => e.type === 'run_cancelled'));
  const client = new Client({ storage, broker: new MemoryBroker() });
  const worker = new Worker(client, { workflows: [leaving, sleepyChild] });
  await worker.start();
  try {
    const run = await client.start(leaving);
    const childId = (await run.result({ timeout: '10s' })) as string;
    const deadline = Date.now() + 10_000;
    while ((await client.getRun(childId).status()) !== 'cancelled' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(await client.getRun(childId).status()).toBe('cancelled');
    expect((await client.getRun(childId).events()).filter((e) => e.type === 'run_cancelled')).toHaveLength(1);
  } finally {
    await worker.stop();
  }
});
