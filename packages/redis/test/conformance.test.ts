import { describe } from 'vitest';
import { brokerSuite, engineSuite, storageSuite } from '@durably/testing';
import { RedisBroker, RedisStorage } from '../src/index.js';
import { REDIS_URL, dropPrefix, serverAvailable, uniquePrefix } from './harness.js';

const available = await serverAvailable();

describe.skipIf(!available)('redis adapter', () => {
  storageSuite('redis', async () => {
    const prefix = uniquePrefix();
    return { connect: async () => new RedisStorage({ url: REDIS_URL, prefix }), cleanup: () => dropPrefix(prefix) };
  });
  brokerSuite('redis', async () => {
    const prefix = uniquePrefix();
    return { connect: async () => new RedisBroker({ url: REDIS_URL, prefix }), cleanup: () => dropPrefix(prefix) };
  });
  engineSuite('redis+redis', async () => {
    const prefix = uniquePrefix();
    return {
      connect: async () => ({ storage: new RedisStorage({ url: REDIS_URL, prefix }), broker: new RedisBroker({ url: REDIS_URL, prefix }) }),
      cleanup: () => dropPrefix(prefix),
    };
  });
});
