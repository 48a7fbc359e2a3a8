import { engineSuite } from '@durably/testing';
import { MemoryBroker, MemoryBrokerHub, MemoryStorage } from '@durably/core';

engineSuite('memory+memory', async () => {
  const storage = new MemoryStorage();
  const hub = new MemoryBrokerHub();
  return { connect: async () => ({ storage, broker: new MemoryBroker({ hub }) }) };
});
