import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brokerSuite, engineSuite, hookIndexAtRestTest, storageSuite } from '@durably/testing';
import { LocalBroker, LocalStorage, MemoryBroker, MemoryBrokerHub, MemoryStorage, availableDrivers } from '../src/index.js';
import { openDatabase } from '../src/sqlite/db.js';
import { capabilities } from './capabilities.js';

// The memory backends: clients of one harness share one storage object and one broker hub.
storageSuite('memory', async () => {
  const storage = new MemoryStorage();
  return { connect: async () => storage };
}, { capabilities });
brokerSuite('memory', async () => {
  const hub = new MemoryBrokerHub();
  return { connect: async () => new MemoryBroker({ hub }) };
}, { capabilities });
engineSuite('memory+memory', async () => {
  const storage = new MemoryStorage();
  const hub = new MemoryBrokerHub();
  return { connect: async () => ({ storage, broker: new MemoryBroker({ hub }) }) };
}, { capabilities });

// The embedded local backend: every client opens the same SQLite file, as separate processes would.
function tempDir() {
  const dir = mkdtempSync(join(tmpdir(), 'durably-conf-'));
  return { dir, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
}
// Once per SQLite library this runtime can load (node:sqlite on Node >= 22.13, better-sqlite3 when
// installed): the backend must behave the same on either.
for (const driver of availableDrivers()) {
  storageSuite(`local/${driver}`, async () => {
    const { dir, cleanup } = tempDir();
    return { connect: async () => new LocalStorage({ path: dir, driver }), cleanup };
  }, { capabilities });
  brokerSuite(`local/${driver}`, async () => {
    const { dir, cleanup } = tempDir();
    return { connect: async () => new LocalBroker({ path: dir, driver }), cleanup };
  }, { capabilities });
  engineSuite(`local/${driver}+local/${driver}`, async () => {
    const { dir, cleanup } = tempDir();
    return { connect: async () => ({ storage: new LocalStorage({ path: dir, driver }), broker: new LocalBroker({ path: dir, driver }) }), cleanup };
  }, { capabilities });
}

// The hook index as each backend holds it: the memory storage's map, the SQLite file's hooks table.
hookIndexAtRestTest('memory', async () => {
  const storage = new MemoryStorage();
  const hub = new MemoryBrokerHub();
  const index = (storage as unknown as { hooks: Map<string, unknown> }).hooks;
  return {
    connect: async () => ({ storage, broker: new MemoryBroker({ hub }) }),
    readHookIndex: async () => [...index].map((entry) => JSON.stringify(entry)),
  };
});
for (const driver of availableDrivers()) {
  hookIndexAtRestTest(`local/${driver}`, async () => {
    const { dir, cleanup } = tempDir();
    return {
      connect: async () => ({ storage: new LocalStorage({ path: dir, driver }), broker: new LocalBroker({ path: dir, driver }) }),
      readHookIndex: async () => {
        const db = openDatabase(dir, driver);
        try {
          return db.prepare('SELECT * FROM hooks').all().map((row) => JSON.stringify(row));
        } finally {
          db.close();
        }
      },
      cleanup,
    };
  });
}
