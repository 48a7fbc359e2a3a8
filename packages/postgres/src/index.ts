import type { AdapterModule } from '@durably/contracts';
import { PostgresBroker } from './broker.js';
import { migrationScript, optionsFromUrl } from './schema.js';
import { PostgresStorage } from './storage.js';

export { PostgresStorage } from './storage.js';
export { PostgresBroker, type PostgresBrokerOptions } from './broker.js';
export { migrate, migrationScript, optionsFromUrl, SCHEMA_VERSION, type PostgresOptions } from './schema.js';

/**
 * Registers the `postgres:` and `postgresql:` schemes: `DURABLY_STORAGE=postgres://user@host/db?schema=durably`.
 * Query parameters `schema` (default "durably") and `max` (pool size) are Durably's; the rest go to pg.
 */
export const durablyAdapter: AdapterModule = {
  storage: (url) => new PostgresStorage(optionsFromUrl(url)),
  broker: (url) => new PostgresBroker(optionsFromUrl(url)),
  migrationSql: (url) => migrationScript(optionsFromUrl(url).schema),
};
