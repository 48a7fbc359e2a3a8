import { expect, it } from 'vitest';
import { Client, MemoryBroker, MemoryStorage, condition, createWorker, defineHook, defineUpdate, sleep, step, waitForSignal, workflow, type Workflow } from '@durably/core';

/**
 * Something from outside gives a suspended run work to do (a hook payload, a signal, an update, a
 * cancel) while the broker loses the wake-up: the event is in the log, the message is gone (a broker
 * restarted without its messages, as fauxqs does). Storage is the truth: the run is runnable again
 * (not suspended), so the stale-run sweep of a worker on the new broker finds it and ends it.
 */
const tokens: string[] = [];
const approval = defineHook<string>('lost-wake.approval');
const announce = step('lost-wake.announce', async (token: string) => {
  tokens.push(token);
});
const waitsForHook = workflow('lost-wake.flow', async () => {
  const hook = approval.create();
  await announce(hook.token);
  return `approved: ${await hook}`;
});
const waitsForSignal = workflow('lost-wake.signal', async () => `signal: ${await waitForSignal<string>('go')}`);
const bump = defineUpdate<number, number>('lost-wake.bump');
const waitsForUpdate = workflow('lost-wake.update', async () => {
  let total = 0;
  bump.handle(async (n) => (total += n));
  await condition(() => total > 0);
  return `update: ${total}`;
});
const sleepsLong = workflow('lost-wake.sleep', async () => {
  await sleep('1h');
  return 'slept';
});
const all: Workflow<any[], any>[] = [waitsForHook, waitsForSignal, waitsForUpdate, sleepsLong];

async function waitFor(predicate: () => Promise<boolean>, ms: number): Promise<void> {
  const by = Date.now() + ms;
  while (!(await predicate())) {
    if (Date.now() > by) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 25));
  }
}

const cases: Array<{ what: string; wf: Workflow<any[], any>; poke: (c: Client, runId: string) => Promise<unknown>; expected: (c: Client, runId: string) => Promise<void> }> = [
  {
    what: 'a hook resumed',
    wf: waitsForHook,
    poke: (c) => c.resumeHook(tokens.at(-1)!, 'yes'),
    expected: async (c, runId) => expect(await c.getRun<string>(runId).result({ timeout: '15s' })).toBe('approved: yes'),
  },
  {
    what: 'a signal sent',
    wf: waitsForSignal,
    poke: (c, runId) => c.sendSignal(runId, 'go', 'now'),
    expected: async (c, runId) => expect(await c.getRun<string>(runId).result({ timeout: '15s' })).toBe('signal: now'),
  },
  {
    what: 'an update sent (its caller gave up waiting for the answer)',
    wf: waitsForUpdate,
    poke: (c, runId) => expect(c.update(runId, bump, 2, { timeout: '200ms' })).rejects.toMatchObject({ name: 'UpdateTimeoutError' }),
    expected: async (c, runId) => expect(await c.getRun<string>(runId).result({ timeout: '15s' })).toBe('update: 2'),
  },
  {
    what: 'a cancel requested',
    wf: sleepsLong,
    poke: (c, runId) => c.cancel(runId, 'no longer needed'),
    expected: async (c, runId) => {
      await waitFor(async () => (await c.getRun(runId).status()) === 'cancelled', 15_000);
    },
  },
];

for (const { what, wf, poke, expected } of cases) {
  it(`${what} while its wake-up message is lost: the run is not left suspended; the stale-run sweep ends it`, async () => {
    const storage = new MemoryStorage();
    const before = new Client({ storage, broker: new MemoryBroker() });
    const first = createWorker({ client: before, workflows: all });
    await first.start();
    const run = await before.start(wf);
    await waitFor(async () => (await run.status()) === 'suspended', 10_000);
    await first.stop();

    // Poked with no worker on this broker: the wake-up stays in it, and the broker is then replaced.
    await poke(before, run.runId);
    expect(await run.status()).toBe('running');

    const after = new Client({ storage, broker: new MemoryBroker() });
    const second = createWorker({ client: after, workflows: all, staleAfter: '1s', recoveryInterval: '200ms' });
    await second.start();
    try {
      await expected(after, run.runId);
    } finally {
      await second.stop();
      await after.close();
      await before.close();
    }
  }, 30_000);
}

it('a signal the run does not wait for wakes it, and it records suspended again (no sweep keeps finding it)', async () => {
  const storage = new MemoryStorage();
  const client = new Client({ storage, broker: new MemoryBroker() });
  const worker = createWorker({ client, workflows: all });
  await worker.start();
  try {
    const run = await client.start(waitsForSignal);
    await waitFor(async () => (await run.status()) === 'suspended', 10_000);
    const before = (await storage.getRun(run.runId))!.lastSeq;
    await client.sendSignal(run.runId, 'unrelated', 1);
    await waitFor(async () => (await run.status()) === 'suspended', 10_000);
    // The signal is the only event: the worker's replay found nothing to do and said so in the record.
    expect((await storage.getRun(run.runId))!.lastSeq).toBe(before + 1);
    await client.sendSignal(run.runId, 'go', 'later');
    expect(await run.result({ timeout: '10s' })).toBe('signal: later');
  } finally {
    await worker.stop();
    await client.close();
  }
}, 30_000);
