import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalBroker, LocalStorage, type Broker, type Storage } from '@durably/core';
import { PostgresBroker, PostgresStorage } from '@durably/postgres';
import { RedisBroker, RedisStorage } from '@durably/redis';
import { Redis } from 'ioredis';
import pg from 'pg';

/**
 * The backends the dashboard is tested on, each isolated per test file: a temp dir for the local
 * file backend, a unique schema in Postgres, a unique key prefix in Redis, all removed afterwards.
 * A missing server skips its tests outside CI; with CI=true it fails them.
 */
export interface Backend {
  storage: Storage;
  broker: Broker;
  cleanup(): Promise<void>;
}

export const PG_URL = process.env.DURABLY_TEST_POSTGRES_URL ?? 'postgres://root@127.0.0.1:5432/test';
export const REDIS_URL = process.env.DURABLY_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0';

export function localBackend(): Backend {
  const dir = mkdtempSync(join(tmpdir(), 'durably-dashboard-'));
  return { storage: new LocalStorage({ path: dir }), broker: new LocalBroker({ path: dir }), cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
}

export function postgresBackend(): Backend {
  const schema = `durably_dash_${randomBytes(5).toString('hex')}`;
  return {
    storage: new PostgresStorage({ url: PG_URL, schema, max: 4 }),
    broker: new PostgresBroker({ url: PG_URL, schema, max: 4 }),
    cleanup: async () => {
      const client = new pg.Client({ connectionString: PG_URL });
      await client.connect();
      try {
        await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      } finally {
        await client.end();
      }
    },
  };
}

export function redisBackend(): Backend {
  const prefix = `durably-dash-${randomBytes(5).toString('hex')}`;
  return {
    storage: new RedisStorage({ url: REDIS_URL, prefix }),
    broker: new RedisBroker({ url: REDIS_URL, prefix }),
    cleanup: async () => {
      const redis = new Redis(REDIS_URL);
      try {
        let cursor = '0';
        do {
          const [next, keys] = await redis.scan(cursor, 'MATCH', `{${prefix}}:*`, 'COUNT', 1000);
          cursor = next;
          if (keys.length) await redis.del(...keys);
        } while (cursor !== '0');
      } finally {
        redis.disconnect();
      }
    },
  };
}

export async function postgresAvailable(): Promise<boolean> {
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.end();
    return true;
  } catch (err) {
    if (process.env.CI) throw new Error(`PostgreSQL is not reachable at ${PG_URL} (CI=true requires it): ${(err as Error).message}`);
    return false;
  }
}

export async function redisAvailable(): Promise<boolean> {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    await redis.ping();
    return true;
  } catch (err) {
    if (process.env.CI) throw new Error(`Redis is not reachable at ${REDIS_URL} (CI=true requires it): ${(err as Error).message}`);
    return false;
  } finally {
    redis.disconnect();
  }
}
