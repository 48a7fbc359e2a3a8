import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BrokerError, MemoryStorage, type Delivery, type Logger } from '@durably/core';
import { serverRestartScenario } from '@durably/testing';
import { RabbitMQBroker } from '../src/index.js';
import { serverAvailable } from './harness.js';
import { PrivateNode, canStartNode } from './private-node.js';

/**
 * A crash of the RabbitMQ node loses nothing. The test runs a private node (its own name, ports and
 * data directory), kills its process group with SIGKILL mid-run and starts it again on the same data.
 */
const canRun = canStartNode && (await serverAvailable());
if (process.env.CI && !canStartNode) throw new Error('rabbitmq-server is not installed (CI=true requires it for the restart test)');

/** Captures log lines, to check that reconnects are logged. */
function recordingLogger(lines: string[]): Logger {
  const log = (level: string) => (msg: string) => void lines.push(`${level} ${msg}`);
  const logger: Logger = { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error'), child: () => logger };
  return logger;
}

describe.skipIf(!canRun)('rabbitmq node restart', () => {
  const node = new PrivateNode();

  beforeAll(async () => {
    await node.start();
    // The queues exist before the tests, as in production: RabbitMQ 3.10 writes the registration of
    // a new quorum queue lazily, and one declared seconds before a crash of the node may not come back.
    for (const [prefix, queue] of [['restart', 'durably.default'], ['outage', 'q'], ['away', 'q']]) {
      const setup = new RabbitMQBroker({ url: node.url, prefix });
      await setup.migrate();
      await (await setup.consume(queue, async () => undefined, { concurrency: 1 })).stop();
      await setup.close();
    }
    await node.restartCleanly();
  }, 180_000);
  afterAll(() => node.destroy());

  it('completes all 200 runs after the node is killed and restarted mid-run, each step recorded once', async () => {
    // Storage outside the node under test: only the broker goes down.
    const storage = new MemoryStorage();
    const lines: string[] = [];
    const brokers: RabbitMQBroker[] = [];
    await serverRestartScenario({
      connect: () => {
        const broker = new RabbitMQBroker({ url: node.url, prefix: 'restart', logger: recordingLogger(lines), publishTimeoutMs: 60_000 });
        brokers.push(broker);
        return { storage, broker };
      },
      crash: () => node.crash(),
      restart: () => node.start(),
      // Every step and wake-up crosses RabbitMQ, and no sweep of storage republishes what a lost
      // message would have done: the runs complete only if the broker loses nothing.
      worker: { stepMode: 'dispatch', localTimerWindow: 0, timerSweepInterval: '1h', recoveryInterval: '1h', staleAfter: '1h' },
    });
    // Every client lost its connections, said so, and reconnected by itself.
    expect(lines.filter((l) => l.startsWith('warn lost the connection to RabbitMQ')).length).toBeGreaterThanOrEqual(brokers.length);
    expect(lines.filter((l) => l.startsWith('warn reconnected to RabbitMQ')).length).toBeGreaterThanOrEqual(brokers.length);
  }, 240_000);

  it('holds publishes made while the node is down until it is back, then delivers each of them', async () => {
    const broker = new RabbitMQBroker({ url: node.url, prefix: 'outage', publishTimeoutMs: 60_000, reconnect: { maxDelayMs: 500 } });
    const consumer = new RabbitMQBroker({ url: node.url, prefix: 'outage', reconnect: { maxDelayMs: 500 } });
    try {
      const got = new Map<string, number>();
      await consumer.consume('q', async (d: Delivery) => void got.set(d.body, (got.get(d.body) ?? 0) + 1), { concurrency: 10 });
      await broker.publish('q', 'before');
      await node.crash();
      // Neither confirmed nor lost: each waits, is retried after the reconnect, and resolves.
      const during = Promise.all(Array.from({ length: 50 }, (_, i) => broker.publish('q', `during-${i}`, { delayMs: i % 2 ? 300 : 0 })));
      await new Promise((r) => setTimeout(r, 1500));
      await node.start();
      await during;
      const deadline = Date.now() + 30_000;
      while (got.size < 51 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect([...got.keys()].sort()).toEqual(['before', ...Array.from({ length: 50 }, (_, i) => `during-${i}`)].sort());
    } finally {
      await broker.close();
      await consumer.close();
    }
  }, 120_000);

  it('fails a publish with BrokerError when the node stays away longer than publishTimeoutMs', async () => {
    const broker = new RabbitMQBroker({ url: node.url, prefix: 'away', publishTimeoutMs: 1500 });
    try {
      await broker.migrate();
      await node.crash();
      const t0 = Date.now();
      const error = await broker.publish('q', 'lost?').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(BrokerError);
      expect((error as Error).message).toMatch(/not confirmed within 1500 ms/);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(1400);
    } finally {
      await broker.close();
      await node.start();
    }
  }, 120_000);
});
