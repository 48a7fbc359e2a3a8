import { afterAll, beforeAll, describe, it } from 'vitest';
import { serverRestartScenario } from '@durably/testing';
import { RedisBroker, RedisStorage } from '../src/index.js';
import { serverAvailable } from './harness.js';
import { PrivateRedis } from './private-server.js';

/**
 * A restart of a Redis with AOF (appendfsync always) during 200 runs loses nothing: a private
 * redis-server on its own port is SIGKILLed mid-run and started again on the same data directory.
 */
const canRun = await serverAvailable();

describe.skipIf(!canRun)('redis server restart (AOF)', () => {
  const server = new PrivateRedis();
  beforeAll(() => server.startOnSomePort(), 120_000);
  afterAll(() => server.dispose());

  it('completes all 200 runs after the server is killed and restarted mid-run', async () => {
    const url = server.url;
    await serverRestartScenario({
      connect: () => ({ storage: new RedisStorage({ url }), broker: new RedisBroker({ url }) }),
      crash: () => server.kill(),
      restart: () => server.start(),
    });
  }, 180_000);
});
