import type { AdapterModule } from '@durably/contracts';
import { RedisBroker } from './broker.js';
import { optionsFromUrl } from './connection.js';
import { RedisStorage } from './storage.js';

export { RedisStorage } from './storage.js';
export { RedisBroker, type RedisBrokerOptions } from './broker.js';
export { keyPrefix, optionsFromUrl, type RedisConnectionOptions } from './connection.js';

/**
 * Registers the `redis:` and `rediss:` schemes: `DURABLY_STORAGE=redis://host:6379/0?prefix=durably`.
 * `prefix` (default "durably") is Durably's; the rest goes to ioredis.
 */
export const durablyAdapter: AdapterModule = {
  storage: (url) => new RedisStorage(optionsFromUrl(url)),
  broker: (url) => new RedisBroker(optionsFromUrl(url)),
};
