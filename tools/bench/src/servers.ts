import pg from 'pg';
import { Redis } from 'ioredis';

/**
 * The servers the bench measures against, and how it removes what a measured part left on them (a
 * Postgres schema, a Redis key prefix), whether the part used them in this process or in others.
 */
export const REDIS_URL = process.env.DURABLY_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379/0';
export const PG_URL = process.env.DURABLY_BENCH_POSTGRES_URL ?? 'postgres://root@127.0.0.1:5432/test';
export const AMQP_URL = process.env.DURABLY_BENCH_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

/** Drops a schema of the bench's and everything in it. */
export async function dropPostgresSchema(schema: string): Promise<void> {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await c.end();
  }
}

/** Deletes the Redis keys of a prefix (Durably's keys are `{prefix}:...`). */
export async function deleteRedisPrefix(prefix: string): Promise<void> {
  const r = new Redis(REDIS_URL);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `{${prefix}}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await r.del(...keys);
    } while (cursor !== '0');
  } finally {
    r.disconnect();
  }
}
