import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { badInputSuite } from '@durably/testing';
import { LocalBroker, LocalStorage, MemoryBroker, MemoryBrokerHub, MemoryStorage } from '../src/index.js';

// The whole table on the embedded default (one SQLite file for storage and broker, as `file:` and
// `local:` open it), and its storage cases on the memory backends.
badInputSuite('file+local', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'durably-bad-input-'));
  return {
    connect: async () => ({ storage: new LocalStorage({ path: dir }), broker: new LocalBroker({ path: dir }) }),
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
}, { backend: { kind: 'file' } });

badInputSuite('memory+memory', async () => {
  const storage = new MemoryStorage();
  const hub = new MemoryBrokerHub();
  return { connect: async () => ({ storage, broker: new MemoryBroker({ hub }) }) };
}, { backend: { kind: 'memory' }, cases: 'storage' });
