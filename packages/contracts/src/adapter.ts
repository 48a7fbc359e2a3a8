import type { Broker } from './broker.js';
import type { Storage } from './storage.js';

/** What an adapter package exports so that a URL can select it: `export const durablyAdapter = { ... }`. */
export interface AdapterModule {
  storage?(url: string): Storage | Promise<Storage>;
  /**
   * `storageUrl`: the storage URL configured beside this broker, when there is one (the embedded
   * broker `local:` without a path shares the directory of a `file:` storage).
   */
  broker?(url: string, options?: { storageUrl?: string }): Broker | Promise<Broker>;
  /** Optional: the SQL that migrate() runs for this URL, for review (`durably migrate --print-sql`). */
  migrationSql?(url: string): string | Promise<string>;
}
