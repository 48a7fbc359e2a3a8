import { resolve } from 'node:path';
import { InvalidArgumentError, redactUrl, type AdapterModule } from '@durably/contracts';
import { MemoryBroker } from './memory/broker.js';
import { MemoryStorage } from './memory/storage.js';
import { LocalBroker } from './sqlite/broker.js';
import { LocalStorage } from './sqlite/storage.js';

/** The directory of the embedded default (`file:` with no path). */
export const DEFAULT_LOCAL_DIR = './.durably';

/**
 * `memory:` URLs name process-wide in-memory backends (`memory:` and `memory:name`), so a client and
 * a worker configured by URL in one process share them.
 */
const memoryStorages = new Map<string, MemoryStorage>();
const memoryBrokers = new Map<string, MemoryBroker>();

/** The directory a `file:` or `local:` URL names: file:./dir, file:dir, file:///abs/dir, local:./dir. */
export function localPath(url: string): string {
  const rest = url.replace(/^(file|local):(\/\/)?/i, '');
  return resolve(rest || DEFAULT_LOCAL_DIR);
}

function schemeOf(url: string): string {
  return (/^([a-z][a-z0-9+.-]*:)/i.exec(url)?.[1] ?? '').toLowerCase();
}

/**
 * The adapter module of the in-process backends, selected by URL like any other: storage `memory:`
 * and `file:` (SQLite), broker `memory:`, `local:` and `file:` (the same SQLite file; without a path,
 * the directory of a `file:` storage beside it, else ./.durably).
 */
export const durablyAdapter: AdapterModule = {
  storage(url) {
    const scheme = schemeOf(url);
    if (scheme === 'memory:') {
      let s = memoryStorages.get(url);
      if (!s) memoryStorages.set(url, (s = new MemoryStorage()));
      return s;
    }
    if (scheme === 'file:') return new LocalStorage({ path: localPath(url) });
    throw new InvalidArgumentError(`@durably/local has no storage for "${redactUrl(url)}": use memory: or file:<dir>.`);
  },
  broker(url, options) {
    const scheme = schemeOf(url);
    if (scheme === 'memory:') {
      let b = memoryBrokers.get(url);
      if (!b) memoryBrokers.set(url, (b = new MemoryBroker()));
      return b;
    }
    if (scheme === 'local:' || scheme === 'file:') {
      const explicit = url.replace(/^(local|file):(\/\/)?/i, '');
      const storageUrl = options?.storageUrl;
      const path = explicit ? localPath(url) : storageUrl && /^file:/i.test(storageUrl) ? localPath(storageUrl) : localPath('file:');
      return new LocalBroker({ path });
    }
    throw new InvalidArgumentError(`@durably/local has no broker for "${redactUrl(url)}": use memory:, local: or file:<dir>.`);
  },
};
