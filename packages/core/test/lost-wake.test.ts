import { expect, it } from 'vitest';
import { Client, MemoryBroker, MemoryStorage, createWorker, defineHook, step, workflow } from '@durably/core';

/**
 * A hook resumed while the broker loses the wake-up: the hook_received event is in the log, the
 * message is gone (a broker restarted without its messages, as fauxqs does). Storage is the truth:
 * the run is runnable again (not suspended), so the stale-run sweep of a worker on the new broker
 * finds it and completes it.
 */
const tokens: string[] = [];
const approval = defineHook<string>('lost-wake.approval');
const announce = step('lost-wake.announce', async (token: string) => {
  tokens.push(token);
});
const waits = workflow('lost-wake.flow', async () => {
  const hook = approval.create();
  await announce(hook.token);
  return `approved: ${await hook}`;
});

async function waitFor(predicate: () => Promise<boolean>, ms: number): Promise<void> {
  const by = Date.now() + ms;
  while (!(await predicate())) {
    if (Date.now() > by) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 25));
  }
}

it('a hook resumed while its wake-up message is lost: the run is not left suspended; the stale-run sweep completes it', async () => {
  const storage = new MemoryStorage();
  const before = new Client({ storage, broker: new MemoryBroker() });
  const first = createWorker({ client: before, workflows: [waits] });
  await first.start();
  const run = await before.start(waits);
  await waitFor(async () => tokens.length === 1 && (await run.status()) === 'suspended', 10_000);
  await first.stop();

  // Resumed with no worker on this broker: the wake-up stays in it, and the broker is then replaced.
  await before.resumeHook(tokens[0], 'yes');
  expect(await run.status()).not.toBe('suspended');

  const after = new Client({ storage, broker: new MemoryBroker() });
  const second = createWorker({ client: after, workflows: [waits], staleAfter: '1s', recoveryInterval: '200ms' });
  await second.start();
  try {
    expect(await after.getRun<string>(run.runId).result({ timeout: '15s' })).toBe('approved: yes');
  } finally {
    await second.stop();
    await after.close();
    await before.close();
  }
}, 30_000);
