import { randomBytes } from 'node:crypto';
import { RedisBroker, RedisStorage } from '@durably/redis';
import { PrivateCluster } from '@durably/redis/private-cluster';
import type { Backend } from './shapes.js';

/**
 * The `redis-cluster` backend: Durably's Redis storage and broker on a private six-node Redis Cluster
 * (three masters with a replica each, on free ports of the 7000 range), started before the first part
 * that needs it and stopped by PID when the bench ends. The shared Redis is not used.
 */
let cluster: PrivateCluster | undefined;
let failure: Error | undefined;

export async function startBenchCluster(): Promise<void> {
  const c = new PrivateCluster();
  try {
    await c.start();
    cluster = c;
  } catch (err) {
    await c.stop();
    failure = err as Error;
    process.stderr.write(`the private Redis Cluster did not start; the redis-cluster parts will fail: ${failure.message}\n`);
  }
}

export async function stopBenchCluster(): Promise<void> {
  await cluster?.stop();
  cluster = undefined;
}

export const redisClusterBackend: Backend = {
  name: 'redis-cluster',
  open() {
    if (!cluster) throw new Error(`no private Redis Cluster: ${failure?.message ?? 'startBenchCluster() was not called'}`);
    const c = cluster;
    const prefix = `durably-bench-${randomBytes(4).toString('hex')}`;
    return {
      storage: new RedisStorage({ url: c.url, prefix }),
      broker: new RedisBroker({ url: c.url, prefix }),
      // Commands run by the masters (replicas only apply their stream): the cluster is the bench's own, so all of them are Durably's.
      commands: async () => {
        const client = await c.client();
        try {
          const infos = await Promise.all(client.nodes('master').map((node) => node.info('stats')));
          return infos.reduce((sum, info) => sum + Number(/total_commands_processed:(\d+)/.exec(info)?.[1] ?? NaN), 0);
        } finally {
          client.disconnect();
        }
      },
      close: () => c.dropPrefix(prefix),
    };
  },
};
