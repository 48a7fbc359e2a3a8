import { randomBytes } from 'node:crypto';
import amqp from 'amqplib';
import { RabbitMQBroker, type RabbitMQBrokerOptions } from '../src/index.js';

/** The RabbitMQ of the machine (CI included); DURABLY_TEST_AMQP_URL overrides it. */
export const AMQP_URL = process.env.DURABLY_TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

/**
 * A fresh prefix per harness. The management plugin (and so an API to create vhosts) is not on, so
 * each test file isolates itself by prefix and deletes what it declared afterwards.
 */
export function uniquePrefix(): string {
  return `durably-t-${randomBytes(5).toString('hex')}`;
}

/**
 * Brokers on one prefix, as separate processes would have, and a cleanup that deletes every queue
 * and exchange any of them declared.
 */
export function brokers(options: Omit<RabbitMQBrokerOptions, 'prefix'> = {}, url = AMQP_URL) {
  const prefix = uniquePrefix();
  const made: RabbitMQBroker[] = [];
  return {
    prefix,
    connect: async (): Promise<RabbitMQBroker> => {
      const broker = new RabbitMQBroker({ url, ...options, prefix });
      made.push(broker);
      return broker;
    },
    cleanup: async (): Promise<void> => {
      const queues = new Set(made.flatMap((b) => [...b.usedQueues]));
      made.length = 0;
      const janitor = new RabbitMQBroker({ url, ...options, prefix });
      try {
        await janitor.dropTopology(queues);
      } finally {
        await janitor.close();
      }
    },
  };
}

/** Outside CI a missing server skips the adapter tests; in CI it is a failure. */
export async function serverAvailable(url = AMQP_URL): Promise<boolean> {
  try {
    const connection = await amqp.connect(url, { timeout: 3000 });
    await connection.close();
    return true;
  } catch (err) {
    if (process.env.CI) throw new Error(`RabbitMQ is not reachable at ${url} (CI=true requires it): ${(err as Error).message}`);
    return false;
  }
}
