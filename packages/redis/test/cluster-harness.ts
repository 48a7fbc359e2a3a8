import { PrivateCluster } from '../src/private-cluster.js';

/**
 * The private six-node cluster of a test file: started at import (top-level await), stopped by the
 * file's afterAll. Outside CI a machine without redis-server skips the cluster tests; under CI=true
 * a cluster that does not start fails them.
 */
export async function startCluster(): Promise<PrivateCluster | undefined> {
  if (!PrivateCluster.installed()) {
    if (process.env.CI) throw new Error('redis-server and redis-cli are needed for the Redis Cluster tests (CI=true requires them)');
    return undefined;
  }
  const cluster = new PrivateCluster();
  try {
    await cluster.start();
    return cluster;
  } catch (err) {
    await cluster.stop();
    if (process.env.CI) throw err;
    console.error(`Redis Cluster tests skipped: ${(err as Error).message}`);
    return undefined;
  }
}
