import { expect, it } from 'vitest';
import { Client, DurableOnlyError, InvalidAttributeError, setAttributes, MemoryBroker, MemoryStorage, RetryableError, cancellable, cancelRequested, defineHook, defineStream, runStream, sleep, step, workflow, type Broker, type Storage } from '@durably/core';

let attempts = 0;
const flaky = step(
  'transient.flaky',
  async (x: number) => {
    if (++attempts < 3) throw new RetryableError('again');
    return x * 2;
  },
  { retries: 3, backoff: { initial: 10, jitter: false } },
);
const quick = workflow('transient.quick', async (x: number) => {
  await sleep(30);
  return flaky(x);
});
const transientByDefault = workflow('transient.default', async () => 'ran', { durable: false });
const needsHook = defineHook<string>('transient.hook');
const hooked = workflow('transient.hooked', async () => {
  needsHook.create();
  return 'not reached';
});
const panel = defineStream('transient.panel');
const streaming = workflow('transient.streaming', async () => runStream(panel, { streamRunId: 'p-1' }));
const slow = workflow('transient.slow', async () => {
  await sleep(10_000);
  return 'not reached';
});

/** Storage and broker that fail on any use: a transient run must touch neither. */
function untouchable(): { storage: Storage; broker: Broker } {
  const fail = () => {
    throw new Error('a transient run touched the backend');
  };
  const handler: ProxyHandler<object> = { get: (_t, prop) => (prop === 'then' ? undefined : fail) };
  return { storage: new Proxy({}, handler) as Storage, broker: new Proxy({}, handler) as Broker };
}

it('runs a transient workflow in-process: steps retry inline, sleep is a real timer, nothing is stored', async () => {
  const client = new Client(untouchable());
  attempts = 0;
  const t0 = Date.now();
  const run = await client.startWith(quick, [21], { durable: false });
  expect(await run.result({ timeout: '5s' })).toBe(42);
  expect(Date.now() - t0).toBeGreaterThanOrEqual(30);
  expect(attempts).toBe(3);
  expect(await run.status()).toBe('completed');
  expect(await run.events()).toEqual([]);
  expect(await (await client.start(transientByDefault)).result()).toBe('ran');
});

it('refuses durable-only features in transient mode with a clear error', async () => {
  const client = new Client({ storage: new MemoryStorage(), broker: new MemoryBroker() });
  const run = await client.startWith(hooked, [], { durable: false });
  const error = await run.result().catch((e: unknown) => e);
  expect(((error as Error).cause as Error)).toBeInstanceOf(DurableOnlyError);
  expect(((error as Error).cause as Error).message).toContain('durable mode');
  expect((await client.storage.listRuns()).runs).toHaveLength(0);
  const streamed = await (await client.startWith(streaming, [], { durable: false })).result().catch((e: unknown) => e);
  expect(((streamed as Error).cause as Error)).toBeInstanceOf(DurableOnlyError);
  expect(((streamed as Error).cause as Error).message).toContain('runStream() needs durable mode');
  expect((await client.storage.listRuns()).runs).toHaveLength(0);
});

it('cancels a transient run', async () => {
  const client = new Client(untouchable());
  const run = await client.startWith(slow, [], { durable: false });
  await run.cancel('enough');
  await expect(run.result({ timeout: '2s' })).rejects.toThrow('enough');
  expect(await run.status()).toBe('cancelled');
});

const labelled = workflow('transient.labelled', async (note: string) => {
  setAttributes({ customer: 'c-1', note });
  return 'labelled';
});

it('checks setAttributes in a transient run and stores nothing (it has no record to index)', async () => {
  const client = new Client(untouchable());
  expect(await (await client.startWith(labelled, ['short'], { durable: false })).result({ timeout: '2s' })).toBe('labelled');
  const error = await (await client.startWith(labelled, ['x'.repeat(300)], { durable: false })).result({ timeout: '2s' }).catch((e: unknown) => e);
  expect((error as Error).cause).toBeInstanceOf(InvalidAttributeError);
});

const scoped = workflow('transient.scoped', async () => cancellable(() => 'never runs'));
const watching = workflow('transient.watching', async () => (await cancelRequested()).reason);

it('refuses cancellation scopes in transient mode; cancelRequested() resolves when the transient run is cancelled', async () => {
  const client = new Client(untouchable());
  const refused = await (await client.startWith(scoped, [], { durable: false })).result().catch((e: unknown) => e);
  expect((refused as Error).cause).toBeInstanceOf(DurableOnlyError);
  expect(((refused as Error).cause as Error).message).toContain('cancellable() / withTimeout() needs durable mode');
  const run = await client.startWith(watching, [], { durable: false });
  await run.cancel('closing time');
  // The run ends cancelled whatever the function returns; the function saw the reason.
  await expect(run.result({ timeout: '2s' })).rejects.toThrow('closing time');
  expect(await run.status()).toBe('cancelled');
});
