import { afterAll, describe } from 'vitest';
import { brokerSuite, engineSuite, hookIndexAtRestTest, storageSuite } from '@durably/testing';
import { RedisBroker, RedisStorage } from '../src/index.js';
import { capabilities } from './capabilities.js';
import { uniquePrefix } from './harness.js';
import { startCluster } from './cluster-harness.js';

const cluster = await startCluster();
afterAll(() => cluster?.stop());

describe.skipIf(!cluster)('redis adapter on a Redis Cluster', () => {
  const url = () => cluster!.url;
  storageSuite('redis-cluster', async () => {
    const prefix = uniquePrefix();
    return { connect: async () => new RedisStorage({ url: url(), prefix }), cleanup: () => cluster!.dropPrefix(prefix) };
  }, { capabilities });
  brokerSuite('redis-cluster', async () => {
    const prefix = uniquePrefix();
    return { connect: async () => new RedisBroker({ url: url(), prefix }), cleanup: () => cluster!.dropPrefix(prefix) };
  }, { capabilities });
  engineSuite('redis-cluster+redis-cluster', async () => {
    const prefix = uniquePrefix();
    return {
      connect: async () => ({ storage: new RedisStorage({ url: url(), prefix }), broker: new RedisBroker({ url: url(), prefix }) }),
      cleanup: () => cluster!.dropPrefix(prefix),
    };
  }, { capabilities });

  // The hook index as the cluster holds it: the hook records (in the runs' buckets) and the locators (token -> run).
  hookIndexAtRestTest('redis-cluster', async () => {
    const prefix = uniquePrefix();
    return {
      connect: async () => ({ storage: new RedisStorage({ url: url(), prefix }), broker: new RedisBroker({ url: url(), prefix }) }),
      readHookIndex: async () => {
        const c = await cluster!.client();
        try {
          const rows: string[] = [];
          for (const node of c.nodes('master')) {
            const keys = [...(await node.keys(`{${prefix}~*}:hook:*`)), ...(await node.keys(`{${prefix}~*}:hookloc:*`))];
            for (const key of keys) rows.push(`${key} ${await node.get(key)}`);
          }
          return rows;
        } finally {
          c.disconnect();
        }
      },
      cleanup: () => cluster!.dropPrefix(prefix),
    };
  });
});
