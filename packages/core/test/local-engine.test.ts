import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { engineSuite } from '@durably/testing';
import { LocalBroker, LocalStorage } from '@durably/core';

engineSuite('local (SQLite file + local broker)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'durably-engine-'));
  return {
    connect: async () => ({ storage: new LocalStorage({ path: dir }), broker: new LocalBroker({ path: dir }) }),
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
});
