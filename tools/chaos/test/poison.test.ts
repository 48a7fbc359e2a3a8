import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, Worker, brokerFromUrl, brokerQueue, listDeadLetters, step, storageFromUrl, workflow, type Logger, type Storage } from '@durably/core';
import { waitFor } from '@durably/testing';
import { PrivatePostgres, PrivateRabbit, PrivateRedis, type PrivateServer } from '../src/servers.js';

/**
 * Poison messages on a worker's queue, on every broker: an undecodable body, a task for a run that
 * does not exist, and a task whose handling always throws. The undecodable one and the one for an
 * unknown run are dead-lettered at once and the throwing one after the worker's 10 deliveries, each
 * with its reason. Behind them, 100 runs complete. Servers are private ones started by the test.
 *
 * Duplicated messages are covered by the engine suite of `@durably/testing`, run on every adapter:
 * "runs each step body exactly once when every message is published twice: 100 runs of 5 steps".
 */
const ci = process.env.CI === 'true';
const has = (cmd: string) => spawnSync(cmd, ['--version']).status === 0;

const add = step('poison.add', async (a: number, b: number) => a + b);
const sum = workflow('poison.sum', async (n: number) => add(n, await add(n, 1)));

/** A storage whose reads of one run always fail: its tasks throw in every delivery. */
function failingFor(inner: Storage, runId: string): Storage {
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop !== 'getRun') return Reflect.get(target, prop, receiver);
      return async (id: string) => {
        if (id === runId) throw new Error(`storage read of ${id} fails on purpose`);
        return target.getRun(id);
      };
    },
  });
}

function capture(): Logger & { warnings: Array<{ msg: string; fields?: Record<string, unknown> }> } {
  const warnings: Array<{ msg: string; fields?: Record<string, unknown> }> = [];
  const logger = { warnings, debug() {}, info() {}, error() {}, warn: (msg: string, fields?: Record<string, unknown>) => void warnings.push({ msg, fields }), child: () => logger };
  return logger;
}

interface BrokerCase {
  name: string;
  available: boolean;
  /** Storage and broker URLs, and what to stop afterwards. */
  open(): Promise<{ storage: string; broker: string; dispose(): Promise<void> }>;
}

const onServer = (make: () => PrivateServer, storage?: string) => async () => {
  const server = make();
  await server.start();
  return { storage: storage ?? server.url, broker: server.url, dispose: () => server.destroy() };
};

const cases: BrokerCase[] = [
  { name: 'memory', available: true, open: async () => ({ storage: `memory:poison-${randomBytes(4).toString('hex')}`, broker: `memory:poison-${randomBytes(4).toString('hex')}`, dispose: async () => undefined }) },
  {
    name: 'local',
    available: true,
    open: async () => {
      const dir = mkdtempSync(join(tmpdir(), 'durably-poison-'));
      return { storage: `file:${dir}`, broker: `local:${dir}`, dispose: async () => rmSync(dir, { recursive: true, force: true }) };
    },
  },
  { name: 'postgres', available: existsSync('/usr/lib/postgresql') || ci, open: onServer(() => new PrivatePostgres()) },
  { name: 'redis', available: has('redis-server') || ci, open: onServer(() => new PrivateRedis()) },
  // The RabbitMQ broker over memory storage: the broker is what is under test.
  { name: 'rabbitmq', available: ['/usr/lib/rabbitmq/bin/rabbitmq-server', '/usr/sbin/rabbitmq-server'].some((p) => existsSync(p)) || ci, open: onServer(() => new PrivateRabbit(), `memory:poison-${randomBytes(4).toString('hex')}`) },
];

// The brokers side by side: each test mostly waits out the redelivery backoff.
describe.concurrent('poison messages', () => {
describe.each(cases.filter((c) => c.available))('on the $name broker', (c) => {
  let backend: Awaited<ReturnType<BrokerCase['open']>>;
  let client: Client;
  let worker: Worker;
  const logger = capture();
  const throwing = `poison-throws-${randomBytes(4).toString('hex')}`;
  const unknown = `poison-unknown-${randomBytes(4).toString('hex')}`;

  beforeAll(async () => {
    backend = await c.open();
    const storage = await storageFromUrl(backend.storage);
    client = new Client({ storage: failingFor(storage, throwing), broker: await brokerFromUrl(backend.broker, backend.storage), logger });
    await client.ensureReady();
    worker = new Worker(client, { workflows: [sum], concurrency: 20, logger });
    await worker.start();
  }, 150_000);

  afterAll(async () => {
    await worker?.stop();
    await client?.close();
    await backend?.dispose();
  }, 60_000);

  it('dead-letters an undecodable message, one for an unknown run and one that always throws, each with its reason, and runs the next 100', async () => {
    const queue = brokerQueue('default');
    await client.broker.publish(queue, '{not json');
    await client.broker.publish(queue, JSON.stringify({ v: 1, kind: 'run', runId: unknown, reason: 'start' }));
    await client.broker.publish(queue, JSON.stringify({ v: 1, kind: 'run', runId: throwing, reason: 'start' }));
    const runs = await Promise.all(Array.from({ length: 100 }, (_, n) => client.start(sum, n)));
    const results = await Promise.all(runs.map((r) => r.result({ timeout: '120s' })));
    expect(results).toEqual(Array.from({ length: 100 }, (_, n) => 2 * n + 1));

    // The throwing task: 10 deliveries with a backoff of 100 ms doubling to 5 s, about 21 s in all.
    await waitFor(async () => (await listDeadLetters(client, ['default'])).length >= 3, 90_000);
    const dead = await listDeadLetters(client, ['default']);
    expect(dead).toHaveLength(3);
    const undecodable = dead.find((d) => d.body === '{not json');
    expect(undecodable?.reason).toMatch(/Undecodable message \(not JSON\)/);
    expect(undecodable?.deliveryCount).toBe(1);
    const failing = dead.find((d) => d.task?.runId === throwing);
    expect(failing?.reason).toMatch(/failed 10 times; last error: storage read of .* fails on purpose/);
    expect(failing?.deliveryCount).toBe(10);
    const orphan = dead.find((d) => d.task?.runId === unknown);
    expect(orphan?.reason).toMatch(new RegExp(`Task for unknown run "${unknown}": no run with this id is in this worker's storage`));
    expect(orphan?.deliveryCount).toBe(1);
    // The queue keeps flowing after them.
    const after = await Promise.all(Array.from({ length: 5 }, (_, n) => client.start(sum, n)));
    for (const r of after) expect(typeof (await r.result({ timeout: '60s' }))).toBe('number');
  }, 180_000);
});
});
