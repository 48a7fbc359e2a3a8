import { describe } from 'vitest';
import { Redis } from 'ioredis';
import { brokerSuite, engineSuite, hookIndexAtRestTest, storageSuite } from '@durably/testing';
import { RedisBroker, RedisStorage } from '../src/index.js';
import { REDIS_URL, dropPrefix, serverAvailable, uniquePrefix } from './harness.js';
import { capabilities } from './capabilities.js';

const available = await serverAvailable();

describe.skipIf(!available)('redis adapter', () => {
  storageSuite('redis', async () => {
    const prefix = uniquePrefix();
    return { connect: async () => new RedisStorage({ url: REDIS_URL, prefix }), cleanup: () => dropPrefix(prefix) };
  }, { capabilities });
  brokerSuite('redis', async () => {
    const prefix = uniquePrefix();
    return { connect: async () => new RedisBroker({ url: REDIS_URL, prefix }), cleanup: () => dropPrefix(prefix) };
  }, { capabilities });
  engineSuite('redis+redis', async () => {
    const prefix = uniquePrefix();
    return {
      connect: async () => ({ storage: new RedisStorage({ url: REDIS_URL, prefix }), broker: new RedisBroker({ url: REDIS_URL, prefix }) }),
      cleanup: () => dropPrefix(prefix),
    };
  }, { capabilities });

  // The hook index as Redis holds it: the hook keys and their values.
  hookIndexAtRestTest('redis', async () => {
    const prefix = uniquePrefix();
    return {
      connect: async () => ({ storage: new RedisStorage({ url: REDIS_URL, prefix }), broker: new RedisBroker({ url: REDIS_URL, prefix }) }),
      readHookIndex: async () => {
        const redis = new Redis(REDIS_URL);
        try {
          const keys = await redis.keys(`{${prefix}}:hook:*`);
          return Promise.all(keys.map(async (key) => `${key} ${await redis.get(key)}`));
        } finally {
          redis.disconnect();
        }
      },
      cleanup: () => dropPrefix(prefix),
    };
  });
});
