import { afterEach, expect, it } from 'vitest';
import { serialize } from '@durably/contracts';
import { Client, MemoryBroker, MemoryStorage, Worker, sleep, waitForSignal, workflow, type Storage } from '../src/index.js';

const napper = workflow('kept.napper', async () => {
  await sleep(300);
  return 'woke';
});

const listener = workflow('kept.listener', async () => {
  await sleep(300);
  return waitForSignal<string>('go', { timeout: '50ms' });
});

/** Storage that counts the reads of each run (record and log). */
function countingReads(inner: MemoryStorage): { storage: Storage; reads: Map<string, number> } {
  const reads = new Map<string, number>();
  const bump = (id: string) => reads.set(id, (reads.get(id) ?? 0) + 1);
  const storage: Storage = Object.assign(Object.create(inner) as Storage, {
    getRun: (id: string) => (bump(id), inner.getRun(id)),
    readEvents: (id: string, from?: number, limit?: number) => (bump(id), inner.readEvents(id, from, limit)),
  });
  return { storage, reads };
}

const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
});

async function setUp(options: { localTimerWindow?: string } = {}) {
  const inner = new MemoryStorage();
  const { storage, reads } = countingReads(inner);
  const client = new Client({ storage, broker: new MemoryBroker() });
  const worker = new Worker(client, { workflows: [napper, listener], ...options });
  await worker.start();
  stops.push(() => worker.stop());
  return { inner, client, reads };
}

async function suspended(inner: MemoryStorage, runId: string): Promise<void> {
  const deadline = Date.now() + 2000;
  while ((await inner.getRun(runId))?.status !== 'suspended' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  expect((await inner.getRun(runId))?.status).toBe('suspended');
}

it('wakes a run whose sleep is due within the window without reading its record or its log', async () => {
  const { inner, client, reads } = await setUp();
  const run = await client.start(napper);
  await suspended(inner, run.runId);
  const before = reads.get(run.runId) ?? 0;
  // Waiting for the result reads the run's record: wait on the raw storage instead.
  const deadline = Date.now() + 3000;
  while ((await inner.getRun(run.runId))?.status !== 'completed' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  expect(reads.get(run.runId) ?? 0).toBe(before);
  const events = await inner.readEvents(run.runId);
  const started = events.find((e) => e.type === 'sleep_started') as { data: { wakeAt: number } } | undefined;
  const woke = events.find((e) => e.type === 'sleep_completed');
  expect(woke!.at).toBeGreaterThanOrEqual(started!.data.wakeAt);
  expect(events.at(-1)!.type).toBe('run_completed');
});

it('replays from storage a kept run that something was written to during its sleep (no task told the worker)', async () => {
  const { inner, client, reads } = await setUp();
  const run = await client.start(listener);
  await suspended(inner, run.runId);
  // A signal in the log only: the kept execution does not know of it, so its first append after the
  // sleep is refused, and the replay finds the signal.
  const appended = await client.appendExternal(run.runId, 'signal_received', { name: 'go', payload: serialize('hello', 'the signal') });
  expect(appended.ok).toBe(true);
  const before = reads.get(run.runId) ?? 0;
  expect(await run.result({ timeout: '3s' })).toBe('hello');
  expect(reads.get(run.runId)! - before).toBeGreaterThan(0);
});

it('keeps no execution when the wake-up is not held by the worker (localTimerWindow: 0): the wake-up replays the run', async () => {
  const { inner, client, reads } = await setUp({ localTimerWindow: '0' });
  const run = await client.start(napper);
  await suspended(inner, run.runId);
  const before = reads.get(run.runId) ?? 0;
  const deadline = Date.now() + 3000;
  while ((await inner.getRun(run.runId))?.status !== 'completed' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  expect((await inner.getRun(run.runId))?.status).toBe('completed');
  expect(reads.get(run.runId)! - before).toBeGreaterThanOrEqual(2);
});
