import { describe } from 'vitest';
import { badInputSuite } from '@durably/testing';
import { RedisBroker, RedisStorage } from '../src/index.js';
import { REDIS_URL, dropPrefix, serverAvailable, uniquePrefix } from './harness.js';

const available = await serverAvailable();

// The storage cases of the bad-input table (injection through every name, id, key and filter: "*",
// "{", ":" and newlines must never become a key pattern or another key), and the URL and
// unreachable-server cases, on Redis under a key prefix of their own.
describe.skipIf(!available)('redis adapter', () => {
  badInputSuite('redis+redis', async () => {
    const prefix = uniquePrefix();
    return {
      connect: async () => ({ storage: new RedisStorage({ url: REDIS_URL, prefix }), broker: new RedisBroker({ url: REDIS_URL, prefix }) }),
      cleanup: () => dropPrefix(prefix),
    };
  }, {
    cases: 'storage',
    backend: {
      kind: 'redis',
      server: {
        malformedUrls: [
          { url: 'redis://:s3cret@127.0.0.1:6x79/0', part: 'port' },
          { url: 'redis://:se/cret@127.0.0.1/0', part: 'userinfo' },
          { url: 'redis://[::1/0', part: 'host' },
          { url: 'redis:/127.0.0.1:6379/0', part: 'scheme' },
          { url: 'redis://127.0.0.1:6379/abc', part: 'path' },
        ],
        hostileOptionUrls: [
          { url: 'redis://127.0.0.1:6379/0?prefix=*', message: /Redis key prefix "\*" is invalid: use 1-64 letters, digits, "_", "-" and "\."\./ },
          { url: 'redis://127.0.0.1:6379/0?prefix=%7Bapp%7D%3A*', message: /Redis key prefix "\{app\}:\*" is invalid/ },
        ],
        unreachableUrl: 'redis://:s3cret@127.0.0.1:1/0',
        secret: 's3cret',
        // Commands wait for a reconnect (10 retries, about 3 s) before failing, so that a server restart is ridden out.
        unreachableBoundMs: 6_000,
      },
    },
  });
});
