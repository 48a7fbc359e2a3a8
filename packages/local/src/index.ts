/**
 * @durably/local: the in-process backends, an adapter like the others. `memory:` (storage and
 * broker in this process's memory) and the embedded default `file:`/`local:` (one SQLite file,
 * shared by the processes that open it). @durably/core depends on it, so `npm install @durably/core`
 * alone runs on the embedded default.
 */
export { MemoryStorage } from './memory/storage.js';
export { MemoryBroker, MemoryBrokerHub } from './memory/broker.js';
export { LocalStorage, type LocalStorageOptions } from './sqlite/storage.js';
export { LocalBroker, type LocalBrokerOptions } from './sqlite/broker.js';
export { availableDrivers, defaultDriver, type SqliteDriverName } from './sqlite/driver.js';
export { durablyAdapter, localPath, DEFAULT_LOCAL_DIR } from './adapter.js';
