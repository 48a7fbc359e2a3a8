import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brokerSuite, engineSuite, storageSuite } from '@durably/testing';
import { LocalBroker, LocalStorage, MemoryBroker, MemoryBrokerHub, MemoryStorage } from '@durably/core';

// The memory backends: clients of one harness share one storage object and one broker hub.
storageSuite('memory', async () => {
  const storage = new MemoryStorage();
  return { connect: async () => storage };
});
brokerSuite('memory', async () => {
  const hub = new MemoryBrokerHub();
  return { connect: async () => new MemoryBroker({ hub }) };
});
engineSuite('memory+memory', async () => {
  const storage = new MemoryStorage();
  const hub = new MemoryBrokerHub();
  return { connect: async () => ({ storage, broker: new MemoryBroker({ hub }) }) };
});

// The embedded local backend: every client opens the same SQLite file, as separate processes would.
function tempDir() {
  const dir = mkdtempSync(join(tmpdir(), 'durably-conf-'));
  return { dir, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
}
storageSuite('local', async () => {
  const { dir, cleanup } = tempDir();
  return { connect: async () => new LocalStorage({ path: dir }), cleanup };
});
brokerSuite('local', async () => {
  const { dir, cleanup } = tempDir();
  return { connect: async () => new LocalBroker({ path: dir }), cleanup };
});
engineSuite('local+local', async () => {
  const { dir, cleanup } = tempDir();
  return { connect: async () => ({ storage: new LocalStorage({ path: dir }), broker: new LocalBroker({ path: dir }) }), cleanup };
});
