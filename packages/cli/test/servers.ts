import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { Redis } from 'ioredis';

export const PG_URL = process.env.DURABLY_TEST_POSTGRES_URL ?? 'postgres://root@127.0.0.1:5432/test';
export const REDIS_URL = process.env.DURABLY_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0';

export const uniqueName = (prefix: string) => `${prefix}${randomBytes(5).toString('hex')}`;

/** Outside CI a missing server skips these tests; with CI=true it fails them. */
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

export async function sql(text: string): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    return await client.query(text);
  } finally {
    await client.end();
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

export async function dropRedisPrefix(prefix: string): Promise<void> {
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
}
