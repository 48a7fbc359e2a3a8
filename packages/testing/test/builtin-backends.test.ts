import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brokerSuite, engineSuite, storageSuite, type Capabilities } from '@durably/testing';
import { LocalBroker, LocalStorage, MemoryBroker, MemoryBrokerHub, MemoryStorage } from '@durably/core';

// What the built-in backends offer. Neither storage pushes finished runs (clients poll); both brokers
// list and remove dead letters, count deliveries exactly, and delay to the millisecond.
const capabilities: Capabilities = {
  subscribeFinished: false,
  deadLetters: true,
  removeDeadLetter: true,
  workerLossRecovery: true,
  exactDeliveryCount: true,
  redeliversOnDisconnect: false,
  delayPrecisionMs: 0,
};

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
storageSuite('local', async () => {
  const { dir, cleanup } = tempDir();
  return { connect: async () => new LocalStorage({ path: dir }), cleanup };
}, { capabilities });
brokerSuite('local', async () => {
  const { dir, cleanup } = tempDir();
  return { connect: async () => new LocalBroker({ path: dir }), cleanup };
}, { capabilities });
engineSuite('local+local', async () => {
  const { dir, cleanup } = tempDir();
  return { connect: async () => ({ storage: new LocalStorage({ path: dir }), broker: new LocalBroker({ path: dir }) }), cleanup };
}, { capabilities });
