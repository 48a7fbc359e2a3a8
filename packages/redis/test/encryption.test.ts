import { randomBytes } from 'node:crypto';
import { describe } from 'vitest';
import { Redis } from 'ioredis';
import { aesGcmCodec } from '@durably/core';
import { encryptionSuite, engineSuite, type RawLocation } from '@durably/testing';
import { RedisBroker, RedisStorage } from '../src/index.js';
import { REDIS_URL, dropPrefix, serverAvailable, uniquePrefix } from './harness.js';
import { capabilities } from './capabilities.js';

const available = await serverAvailable();

function backends(prefix: string) {
  return { storage: new RedisStorage({ url: REDIS_URL, prefix }), broker: new RedisBroker({ url: REDIS_URL, prefix }) };
}

/** Every key of the prefix with its value (whatever its type), read with ioredis around the adapter. */
async function dump(prefix: string): Promise<RawLocation[]> {
  const redis = new Redis(REDIS_URL);
  try {
    const out: RawLocation[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `{${prefix}}:*`, 'COUNT', 1000);
      cursor = next;
      for (const key of keys) {
        const type = await redis.type(key);
        const value =
          type === 'string' ? await redis.get(key)
          : type === 'hash' ? await redis.hgetall(key)
          : type === 'list' ? await redis.lrange(key, 0, -1)
          : type === 'set' ? await redis.smembers(key)
          : type === 'zset' ? await redis.zrange(key, 0, -1, 'WITHSCORES')
          : type === 'stream' ? await redis.xrange(key, '-', '+')
          : `(a ${type})`;
        out.push({ where: `key ${key}`, text: `${key} ${JSON.stringify(value)}` });
      }
    } while (cursor !== '0');
    return out;
  } finally {
    redis.disconnect();
  }
}

describe.skipIf(!available)('redis adapter, encrypted', () => {
  engineSuite('redis+redis, encrypted', async () => {
    const prefix = uniquePrefix();
    return { connect: async () => backends(prefix), cleanup: () => dropPrefix(prefix) };
  }, { capabilities, codec: aesGcmCodec({ keys: { k1: randomBytes(32) } }), areas: ['basics', 'steps', 'hooks', 'messages', 'children'] });

  encryptionSuite('redis', async () => {
    const prefix = uniquePrefix();
    return { connect: async () => backends(prefix), dump: () => dump(prefix), cleanup: () => dropPrefix(prefix) };
  });
});
