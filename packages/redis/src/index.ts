import type { AdapterModule } from '@durably/contracts';
import { RedisBroker } from './broker.js';
import { optionsFromUrl } from './connection.js';
import { RedisStorage } from './storage.js';

export { RedisStorage } from './storage.js';
export { RedisBroker, type RedisBrokerOptions } from './broker.js';
export { keyPrefix, optionsFromUrl, parseClusterUrl, type RedisClient, type RedisConnectionOptions } from './connection.js';
export { KeyLayout, DEFAULT_BUCKETS, bucketOf } from './layout.js';

/**
 * Registers the `redis:` and `rediss:` schemes: `DURABLY_STORAGE=redis://host:6379/0?prefix=durably`,
 * and `redis+cluster:` / `rediss+cluster:` for a Redis Cluster: `redis+cluster://host1:7000,host2:7001?prefix=durably`.
 * `prefix` (default "durably") and `buckets` (cluster, default 16) are Durably's; the rest goes to ioredis.
 */
export const durablyAdapter: AdapterModule = {
  storage: (url) => new RedisStorage(optionsFromUrl(url)),
  broker: (url) => new RedisBroker(optionsFromUrl(url)),
};
