import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { RabbitMQBroker } from '@durably/rabbitmq';
import { AMQP_URL, PG_URL, REDIS_URL, deleteRedisPrefix, dropPostgresSchema } from './servers.js';

/**
 * Backends named by URL (DURABLY_STORAGE / DURABLY_BROKER), for the parts of the bench that run
 * Durably in processes of their own (B8's worker processes, B9's cold starts): each opening gets a
 * namespace of its own (a directory, a schema, a key prefix, a queue prefix), removed by cleanup().
 */
export interface UrlBackend {
  storage: string;
  broker: string;
  /** The server processes behind it, by command name (for their CPU, see proc-cpu.ts). */
  servers: Record<string, string>;
  cleanup(): Promise<void>;
}

export const URL_BACKENDS = ['local', 'postgres', 'redis', 'postgres+redis', 'postgres+rabbitmq'] as const;

const withParams = (url: string, params: Record<string, string>) => {
  const u = new URL(url);
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
  return u.toString();
};

/**
 * Postgres pool sizes of each process: half of the in-process backends' (16 and 8, shapes.ts), so that
 * B8's 5 processes (a client, 4 workers) open at most 60 connections. At 16 + 8 each they could open
 * 120, over a default server's max_connections of 100: dispatched steps on 4 workers did, and failed
 * with "too many clients".
 */
const PG_STORAGE_POOL = '8';
const PG_BROKER_POOL = '4';

/** A fresh namespace on the named pair. */
export function openUrlBackend(name: string): UrlBackend {
  const id = randomBytes(4).toString('hex');
  const schema = `durably_bench_${id}`;
  const prefix = `durably-bench-${id}`;
  const pgStorage = withParams(PG_URL, { schema, max: PG_STORAGE_POOL });
  const redisUrl = withParams(REDIS_URL, { prefix });
  switch (name) {
    case 'local': {
      const dir = mkdtempSync(join(tmpdir(), 'durably-bench-'));
      return { storage: `file:${dir}`, broker: `local:${dir}`, servers: {}, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
    }
    case 'postgres':
      return { storage: pgStorage, broker: withParams(PG_URL, { schema, max: PG_BROKER_POOL }), servers: { postgres: 'postgres' }, cleanup: () => dropPostgresSchema(schema) };
    case 'redis':
      return { storage: redisUrl, broker: redisUrl, servers: { redis: 'redis-server' }, cleanup: () => deleteRedisPrefix(prefix) };
    case 'postgres+redis':
      return {
        storage: pgStorage,
        broker: redisUrl,
        servers: { postgres: 'postgres', redis: 'redis-server' },
        cleanup: async () => {
          await dropPostgresSchema(schema);
          await deleteRedisPrefix(prefix);
        },
      };
    case 'postgres+rabbitmq':
      return {
        storage: pgStorage,
        broker: withParams(AMQP_URL, { prefix }),
        servers: { postgres: 'postgres', rabbitmq: 'beam.smp' },
        cleanup: async () => {
          await dropPostgresSchema(schema);
          const janitor = new RabbitMQBroker({ url: AMQP_URL, prefix });
          try {
            // The engine's one queue, "default" (durably.default), with its dead letters and the delay ladder.
            await janitor.dropTopology(['durably.default']);
          } finally {
            await janitor.close();
          }
        },
      };
    default:
      throw new Error(`No URL form of the backend "${name}". Known: ${URL_BACKENDS.join(', ')}`);
  }
}
