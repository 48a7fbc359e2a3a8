import { afterEach, describe, expect, it } from 'vitest';
import amqp from 'amqplib';
import { PoisonMessageError, type Delivery, type Subscription } from '@durably/core';
import type { QueueType, RabbitMQBroker } from '../src/index.js';
import { AMQP_URL, brokers, serverAvailable } from './harness.js';

/**
 * Poison messages never block a queue: an undecodable body, and a message whose consumers keep dying
 * while they hold it, go to the dead-letter queue (with the reason in headers) and the messages
 * behind them flow.
 */
const available = await serverAvailable();

const waitFor = async (predicate: () => boolean | Promise<boolean>, ms: number, what: string) => {
  const deadline = Date.now() + ms;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe.skipIf(!available).each(['quorum', 'classic'] as QueueType[])('poison messages (%s queues)', (queueType) => {
  let harness: ReturnType<typeof brokers>;
  const opened: RabbitMQBroker[] = [];
  const subs: Subscription[] = [];
  const connect = async (options: Parameters<typeof brokers>[0] = {}) => {
    harness ??= brokers({ queueType, ...options });
    const b = await harness.connect();
    await b.migrate();
    opened.push(b);
    return b;
  };

  afterEach(async () => {
    await Promise.allSettled(subs.splice(0).map((s) => s.stop()));
    await Promise.allSettled(opened.splice(0).map((b) => b.close()));
    await harness?.cleanup();
    harness = undefined as never;
  });

  it('dead-letters a body that is not UTF-8 without calling the handler, with the reason in its headers', async () => {
    const b = await connect();
    const handled: string[] = [];
    subs.push(await b.consume('q', async (d) => void handled.push(d.body), { concurrency: 1 }));
    // Another client puts raw bytes in the queue.
    const raw = await amqp.connect(AMQP_URL);
    const ch = await raw.createConfirmChannel();
    await new Promise((res, rej) => ch.sendToQueue(`${harness.prefix}.q.q`, Buffer.from([0xff, 0xfe, 0x00]), { persistent: true, messageId: 'bad-bytes' }, (e) => (e ? rej(e) : res(null))));
    await b.publish('q', 'good-1');
    await b.publish('q', 'good-2');
    await waitFor(() => handled.length === 2, 10_000, 'the good messages');
    await waitFor(async () => (await b.deadLetters('q')).length === 1, 5000, 'the dead letter');
    const [dead] = await b.deadLetters('q');
    expect(dead).toMatchObject({ id: 'bad-bytes', queue: 'q', deliveryCount: 1, body: Buffer.from([0xff, 0xfe, 0x00]).toString('base64') });
    expect(dead.reason).toMatch(/undecodable: the message body is not UTF-8/);
    expect(handled).toEqual(['good-1', 'good-2']);
    // The reason is in the message's headers, for any AMQP tool to read.
    const msg = await ch.get(`${harness.prefix}.dlq.q`, { noAck: true });
    expect(msg && msg.properties.headers?.['x-durably-reason']).toMatch(/undecodable/);
    expect(msg && msg.properties.headers?.['x-durably-deliveries']).toBe(1);
    await raw.close();
  });

  it('dead-letters a message whose consumers die holding it, once maxDeliveries is passed, and keeps the queue flowing', async () => {
    const publisher = await connect();
    await publisher.publish('q', 'kills-its-consumer');
    for (let death = 1; death <= 3; death++) {
      // A "process" that takes the message and dies with it.
      const doomed = await connect();
      const got: Delivery[] = [];
      await doomed.consume('q', async (d) => {
        got.push(d);
        await new Promise(() => undefined);
      }, { concurrency: 1, maxDeliveries: 3 });
      await waitFor(() => got.length === 1, 10_000, `delivery ${death}`);
      expect(got[0].deliveryCount).toBe(death);
      await doomed.close();
    }
    await publisher.publish('q', 'after');
    const survivor = await connect();
    const handled: string[] = [];
    subs.push(await survivor.consume('q', async (d) => void handled.push(d.body), { concurrency: 1, maxDeliveries: 3 }));
    await waitFor(() => handled.length === 1, 10_000, 'the message behind it');
    expect(handled).toEqual(['after']);
    await waitFor(async () => (await survivor.deadLetters('q')).length === 1, 5000, 'the dead letter');
    const [dead] = await survivor.deadLetters('q');
    expect(dead).toMatchObject({ queue: 'q', body: 'kills-its-consumer', deliveryCount: 4 });
    expect(dead.reason).toMatch(/delivered 4 times \(maxDeliveries 3\)/);
  });

  it.skipIf(queueType !== 'quorum')("is dead-lettered by RabbitMQ itself past the quorum queue's x-delivery-limit", async () => {
    const publisher = await connect({ deliveryLimit: 1 });
    await publisher.publish('q', 'kills-its-consumer');
    for (let death = 1; death <= 2; death++) {
      const doomed = await connect({ deliveryLimit: 1 });
      let got = 0;
      await doomed.consume('q', async () => {
        got++;
        await new Promise(() => undefined);
      }, { concurrency: 1, maxDeliveries: 100 });
      await waitFor(() => got === 1, 10_000, `delivery ${death}`);
      await doomed.close();
    }
    await waitFor(async () => (await publisher.deadLetters('q')).length === 1, 10_000, 'the dead letter');
    const [dead] = await publisher.deadLetters('q');
    expect(dead).toMatchObject({ queue: 'q', body: 'kills-its-consumer', deliveryCount: 2 });
    expect(dead.reason).toMatch(/RabbitMQ dead-lettered it \(delivery_limit\)/);
  });

  it('lists dead letters oldest first, leaves them in place, and serves readers on two clients at once', async () => {
    const a = await connect();
    const b = await connect();
    subs.push(await a.consume('q', async (d) => {
      throw new PoisonMessageError(`bad ${d.body}`);
    }, { concurrency: 1 }));
    for (let i = 0; i < 10; i++) await a.publish('q', `m${i}`);
    await waitFor(async () => (await a.deadLetters('q')).length === 10, 10_000, 'ten dead letters');
    const lists = await Promise.all([a.deadLetters('q'), b.deadLetters('q'), a.deadLetters('q', 3), b.deadLetters('q')]);
    const bodies = (list: (typeof lists)[0]) => list.map((d) => d.body);
    const all = bodies(lists[0]);
    expect(all).toEqual(Array.from({ length: 10 }, (_, i) => `m${i}`));
    expect(bodies(lists[1])).toEqual(all);
    expect(bodies(lists[2])).toEqual(all.slice(0, 3));
    expect(bodies(lists[3])).toEqual(all);
    const at = lists[0].map((d) => d.at);
    expect([...at].sort((x, y) => x - y)).toEqual(at);
  });
});
