import { afterEach, describe, expect, it } from 'vitest';
import amqp, { type ChannelModel, type ConfirmChannel } from 'amqplib';
import type { Subscription } from '@durably/core';
import { RabbitMQBroker } from '../src/index.js';
import { AMQP_URL, brokers, serverAvailable, uniquePrefix } from './harness.js';

const available = await serverAvailable();

const waitFor = async (predicate: () => boolean, ms: number, what: string) => {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

/** An amqplib connection whose confirm channels report publishes in flight and confirm frames. */
async function observedConnection() {
  const connection = await amqp.connect(AMQP_URL);
  const seen = { inFlight: 0, maxInFlight: 0, published: 0, confirmFrames: 0, multipleFrames: 0 };
  const create = connection.createConfirmChannel.bind(connection);
  connection.createConfirmChannel = async (...args: Parameters<ChannelModel['createConfirmChannel']>) => {
    const channel = await create(...args);
    channel.on('ack', (fields: { multiple: boolean }) => {
      seen.confirmFrames++;
      if (fields.multiple) seen.multipleFrames++;
    });
    const publish = channel.publish.bind(channel) as ConfirmChannel['publish'];
    channel.publish = (exchange, routingKey, content, options, callback) => {
      seen.published++;
      seen.maxInFlight = Math.max(seen.maxInFlight, ++seen.inFlight);
      return publish(exchange, routingKey, content, options, (err, ok) => {
        seen.inFlight--;
        callback?.(err, ok);
      });
    };
    return channel;
  };
  return { connection, seen };
}

describe.skipIf(!available)('publishing', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('shares confirm windows between concurrent publishes: they are in flight together and confirmed in batches', async () => {
    const { connection, seen } = await observedConnection();
    const prefix = uniquePrefix();
    const broker = new RabbitMQBroker({ connection, prefix });
    cleanups.push(async () => {
      await broker.dropTopology();
      await broker.close();
      await connection.close();
    });
    await broker.migrate();
    await broker.publish('q', 'warm-up');
    const before = { published: seen.published, frames: seen.confirmFrames };
    await Promise.all(Array.from({ length: 2000 }, (_, i) => broker.publish('q', `m${i}`)));
    expect(seen.published - before.published).toBe(2000);
    // Not one confirm awaited after another: hundreds in flight at once, acknowledged in batches.
    expect(seen.maxInFlight).toBeGreaterThan(100);
    expect(seen.multipleFrames).toBeGreaterThan(0);
    expect(seen.confirmFrames - before.frames).toBeLessThan(2000);
    // And every one of them is in the queue, once.
    const got = new Map<string, number>();
    const consumer = new RabbitMQBroker({ url: AMQP_URL, prefix });
    const sub: Subscription = await consumer.consume('q', async (d) => void got.set(d.body, (got.get(d.body) ?? 0) + 1), { concurrency: 50 });
    cleanups.push(async () => {
      await sub.stop();
      await consumer.close();
    });
    await waitFor(() => got.size === 2001, 30_000, 'all messages');
    expect([...got.values()].every((n) => n === 1)).toBe(true);
  });

  it("works on the caller's amqplib connection and leaves it open on close()", async () => {
    const connection = await amqp.connect(AMQP_URL);
    const h = brokers({ connection });
    cleanups.push(async () => {
      await h.cleanup();
      await connection.close();
    });
    const broker = await h.connect();
    await broker.migrate();
    const got: string[] = [];
    const sub = await broker.consume('q', async (d) => void got.push(d.body), { concurrency: 2 });
    await broker.publish('q', 'over your connection');
    await waitFor(() => got.length === 1, 5000, 'the message');
    await sub.stop();
    await broker.close();
    const channel = await connection.createChannel(); // still usable
    await channel.close();
  });

  it('fails with a BrokerError naming the address when the server cannot be reached', async () => {
    const broker = new RabbitMQBroker({ url: 'amqp://guest:secret@127.0.0.1:1/', reconnect: { initialDelayMs: 10, maxDelayMs: 20 } });
    cleanups.push(() => broker.close());
    const error = (await broker.migrate().catch((e: unknown) => e)) as Error;
    expect(error.name).toBe('BrokerError');
    expect(error.message).toContain('amqp://guest:***@127.0.0.1:1');
    expect(error.message).not.toContain('secret');
  });

  it('says which option to change when a queue exists with other arguments', async () => {
    const h = brokers();
    cleanups.push(() => h.cleanup());
    const quorum = await h.connect();
    await quorum.publish('q', 'x');
    const classic = new RabbitMQBroker({ url: AMQP_URL, prefix: h.prefix, queueType: 'classic' });
    cleanups.push(() => classic.close());
    const error = (await classic.publish('q', 'y').catch((e: unknown) => e)) as Error;
    expect(error.name).toBe('BrokerError');
    expect(error.message).toMatch(/PRECONDITION_FAILED.*another queueType or deliveryLimit/s);
  });
});
