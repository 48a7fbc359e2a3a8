import type { Channel, Message } from 'amqplib';
import { BrokerError, type DeadLetter } from '@durably/core';
import type { Link } from './connection.js';
import { deadLetterOf } from './envelope.js';
import type { Topology } from './topology.js';

/**
 * Lists a queue's dead letters without taking them: AMQP has no "peek", so the reader gets up to
 * `limit` messages unacked (`basic.get`) and then closes its channel, which puts them back where
 * they were (classic queues keep the position of a returned message; the dead-letter queues are
 * classic for that). While one client reads, it holds an exclusive queue `<prefix>.lock.<queue>`;
 * another reader waits for it, so that no reader sees the list with another's messages taken out.
 */
export async function readDeadLetters(link: Link, topology: Topology, queue: string, limit: number, deliveryLimit: number): Promise<DeadLetter[]> {
  await topology.ensureQueue(queue);
  const names = topology.names;
  const deadline = Date.now() + 10_000;
  for (let attempt = 0; ; attempt++) {
    const channel = await link.channel(false);
    try {
      try {
        await channel.assertQueue(names.lockQueue(queue), { exclusive: true, durable: false, autoDelete: true });
      } catch (err) {
        if ((err as { code?: number }).code !== 405 || Date.now() > deadline) throw err;
        // RESOURCE_LOCKED: another client is reading (and this channel is closed): try again shortly.
        await new Promise((r) => setTimeout(r, Math.min(20 * (attempt + 1), 200)));
        continue;
      }
      try {
        return await take(channel, names.deadLetterQueue(queue), limit, queue, deliveryLimit);
      } finally {
        await channel.deleteQueue(names.lockQueue(queue)).catch(() => undefined);
      }
    } catch (err) {
      throw new BrokerError(`Reading the dead letters of "${queue}" failed: ${(err as Error).message}`, { cause: err });
    } finally {
      // Returns the messages taken, unacked, to their places in the queue.
      await channel.close().catch(() => undefined);
    }
  }
}

async function take(channel: Channel, name: string, limit: number, queue: string, deliveryLimit: number): Promise<DeadLetter[]> {
  const out: DeadLetter[] = [];
  while (out.length < limit) {
    const msg = (await channel.get(name, { noAck: false })) as Message | false;
    if (!msg) break;
    out.push(deadLetterOf(msg, queue, deliveryLimit));
  }
  return out;
}
