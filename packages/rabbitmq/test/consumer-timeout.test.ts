import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Delivery, Logger, Subscription } from '@durably/core';
import { RabbitMQBroker } from '../src/index.js';
import { serverAvailable } from './harness.js';
import { PrivateNode, canStartNode } from './private-node.js';

/**
 * RabbitMQ closes a channel whose oldest unacked delivery is older than `consumer_timeout` (30 min by
 * default) and gives its messages to other consumers, while the handlers still run. A private node
 * with consumer_timeout = 3 s (checked every 250 ms) shows that a long handler keeps its message
 * anyway, that its lease brings the message back if its process dies, and what happens without it.
 */
const canRun = canStartNode && (await serverAvailable());
const TIMEOUT_MS = 3000;

const waitFor = async (predicate: () => boolean, ms: number, what: string) => {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

function recordingLogger(lines: string[]): Logger {
  const log = (level: string) => (msg: string) => void lines.push(`${level} ${msg}`);
  const logger: Logger = { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error'), child: () => logger };
  return logger;
}

describe.skipIf(!canRun)('consumer timeout', () => {
  const node = new PrivateNode({ consumerTimeoutMs: TIMEOUT_MS, channelTickMs: 250 });
  const opened: RabbitMQBroker[] = [];
  const subs: Subscription[] = [];
  let n = 0;
  const connect = (options: { consumerTimeoutMs?: number; lines?: string[] } = {}) => {
    const broker = new RabbitMQBroker({
      url: node.url,
      // Classic queues: this test is about channels, and a quorum queue declared seconds before the
      // node is killed might not come back (see restart.test.ts); none is killed here, but keep it light.
      queueType: 'classic',
      prefix: `ct${n}`,
      consumerTimeoutMs: options.consumerTimeoutMs ?? TIMEOUT_MS,
      logger: recordingLogger(options.lines ?? []),
    });
    opened.push(broker);
    return broker;
  };

  beforeAll(() => node.start(), 120_000);
  afterAll(() => node.destroy());
  afterEach(async () => {
    await Promise.allSettled(subs.splice(0).map((s) => s.stop()));
    await Promise.allSettled(opened.splice(0).map((b) => b.close()));
    n++;
  });

  it('lets a handler run for several consumer timeouts without losing its message, then acks it', async () => {
    const lines: string[] = [];
    const a = connect({ lines });
    const b = connect({ lines });
    const deliveries: Delivery[] = [];
    let finished = false;
    const handler = async (d: Delivery) => {
      deliveries.push(d);
      if (d.body === 'long') {
        await new Promise((r) => setTimeout(r, TIMEOUT_MS * 3));
        finished = true;
      }
    };
    subs.push(await a.consume('q', handler, { concurrency: 1, visibilityTimeoutMs: 1500 }));
    subs.push(await b.consume('q', handler, { concurrency: 1, visibilityTimeoutMs: 1500 }));
    await a.publish('q', 'long');
    await waitFor(() => finished, TIMEOUT_MS * 6, 'the long handler');
    // Other messages still flow meanwhile and after.
    await a.publish('q', 'short');
    await waitFor(() => deliveries.length === 2, 5000, 'the short message');
    await new Promise((r) => setTimeout(r, 2000));
    expect(deliveries.map((d) => d.body)).toEqual(['long', 'short']);
    expect(lines.some((l) => l.includes('moved to a lease queue'))).toBe(true);
    expect(lines.filter((l) => l.includes('consumer_timeout') || l.includes('lost a consumer channel'))).toEqual([]);
  });

  it('gives a handed-over message back within the visibility timeout when its process dies', async () => {
    const a = connect();
    const b = connect();
    const first: Delivery[] = [];
    subs.push(await a.consume('q', async (d) => {
      first.push(d);
      await new Promise(() => undefined);
    }, { concurrency: 1, visibilityTimeoutMs: 1500 }));
    await a.publish('q', 'held');
    await waitFor(() => first.length === 1, 5000, 'the first delivery');
    // Past the hand-over (half the consumer timeout), then the "process" dies.
    await new Promise((r) => setTimeout(r, TIMEOUT_MS / 2 + 1000));
    await a.close();
    const died = Date.now();
    const second: Delivery[] = [];
    subs.push(await b.consume('q', async (d) => void second.push(d), { concurrency: 1, visibilityTimeoutMs: 1500 }));
    await waitFor(() => second.length === 1, 10_000, 'the redelivery');
    expect(second[0]).toMatchObject({ id: first[0].id, body: 'held', deliveryCount: 2 });
    // It came back by its lease's expiry (not by the connection closing: it had been acked).
    expect(Date.now() - died).toBeGreaterThanOrEqual(500);
  });

  it('without the hand-over, RabbitMQ closes the channel and gives the running message to another consumer', async () => {
    const lines: string[] = [];
    const a = connect({ consumerTimeoutMs: 0, lines });
    const b = connect({ consumerTimeoutMs: 0, lines });
    const deliveries: string[] = [];
    const handler = async (d: Delivery) => {
      deliveries.push(d.body);
      if (d.body === 'long') await new Promise((r) => setTimeout(r, TIMEOUT_MS * 3));
    };
    subs.push(await a.consume('q', handler, { concurrency: 1 }));
    subs.push(await b.consume('q', handler, { concurrency: 1 }));
    await a.publish('q', 'long');
    await waitFor(() => deliveries.length >= 2, TIMEOUT_MS * 4, 'a second delivery');
    expect(deliveries.slice(0, 2)).toEqual(['long', 'long']);
    expect(lines.some((l) => l.startsWith('error RabbitMQ closed a consumer channel on its consumer_timeout'))).toBe(true);
    // The consumer whose channel was closed subscribed again by itself.
    await waitFor(() => lines.some((l) => l === 'info subscribed again'), 10_000, 'the new subscription');
  });
});
