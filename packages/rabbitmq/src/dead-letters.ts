import type { Channel, Message } from 'amqplib';
import { BrokerError, type DeadLetter } from '@durably/contracts';
import type { Link } from './connection.js';
import { deadLetterOf } from './envelope.js';
import type { Topology } from './topology.js';

/**
 * Lists a queue's dead letters without taking them: AMQP has no "peek", so the reader gets up to
 * `limit` messages unacked (`basic.get`) and then closes its channel, which puts them back where
 * they were (classic queues keep the position of a returned message; the dead-letter queues are
 * classic for that). While one client reads, it holds an exclusive queue `<prefix>.lock.<queue>`,
 * released only once the messages are back; another reader waits for it, so that no reader sees
 * the list with another's messages taken out. An exclusive queue excludes other connections only:
 * readers in one process also wait for each other here.
 */
const reading = new WeakMap<Link, Map<string, Promise<unknown>>>();

export function readDeadLetters(link: Link, topology: Topology, queue: string, limit: number, deliveryLimit: number): Promise<DeadLetter[]> {
  let byQueue = reading.get(link);
  if (!byQueue) reading.set(link, (byQueue = new Map()));
  const before = byQueue.get(queue) ?? Promise.resolve();
  const mine = before.catch(() => undefined).then(() => readLocked(link, topology, queue, limit, deliveryLimit));
  byQueue.set(queue, mine);
  const map = byQueue;
  void mine.finally(() => {
    if (map.get(queue) === mine) map.delete(queue);
  }).catch(() => undefined);
  return mine;
}

async function readLocked(link: Link, topology: Topology, queue: string, limit: number, deliveryLimit: number): Promise<DeadLetter[]> {
  await topology.ensureQueue(queue);
  const names = topology.names;
  const deadline = Date.now() + 10_000;
  for (let attempt = 1; ; attempt++) {
    const lock = await link.channel(false);
    try {
      try {
        await lock.assertQueue(names.lockQueue(queue), { exclusive: true, durable: false, autoDelete: true });
      } catch (err) {
        // RESOURCE_LOCKED (and this channel closed): another client is reading; try again shortly.
        if ((err as { code?: number }).code !== 405 || Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, Math.min(20 * attempt, 200)));
        continue;
      }
      const reader = await link.channel(false);
      let letters: DeadLetter[];
      try {
        letters = await take(reader, names.deadLetterQueue(queue), limit, queue, deliveryLimit);
      } finally {
        // Puts the messages taken back in their places before the lock is released.
        await reader.close().catch(() => undefined);
      }
      await lock.deleteQueue(names.lockQueue(queue));
      return letters;
    } catch (err) {
      throw new BrokerError(`Reading the dead letters of "${queue}" failed: ${(err as Error).message}`, { cause: err });
    } finally {
      await lock.close().catch(() => undefined);
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
