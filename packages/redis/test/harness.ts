import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';

export const REDIS_URL = process.env.DURABLY_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0';

/** A fresh key prefix per harness, so test runs never see each other's keys. */
export function uniquePrefix(): string {
  return `durably-t-${randomBytes(5).toString('hex')}`;
}

/** Deletes every key of a prefix (all share the hash tag `{prefix}`). */
export async function dropPrefix(prefix: string): Promise<void> {
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

/** Outside CI a missing server skips the adapter tests; in CI it is a failure. */
export async function serverAvailable(): Promise<boolean> {
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

