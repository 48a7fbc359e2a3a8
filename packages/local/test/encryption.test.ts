import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { aesGcmCodec } from '@durably/core';
import { encryptionSuite, engineSuite, type EngineArea, type RawLocation } from '@durably/testing';
import { LocalBroker, LocalStorage, MemoryBroker, MemoryBrokerHub, MemoryStorage, defaultDriver } from '../src/index.js';
import { openSqlite } from '../src/sqlite/driver.js';
import { capabilities } from './capabilities.js';

// The engine under a payload codec: the areas whose runs carry payloads of every kind (arguments,
// results, errors, hook tokens and payloads, signals, children), on both in-process backends.
const areas: EngineArea[] = ['basics', 'steps', 'hooks', 'messages', 'children', 'continueAsNew', 'updates'];
const codec = aesGcmCodec({ keys: { old: randomBytes(32), k1: randomBytes(32) }, current: 'k1' });

engineSuite('memory+memory, encrypted', async () => {
  const storage = new MemoryStorage();
  const hub = new MemoryBrokerHub();
  return { connect: async () => ({ storage, broker: new MemoryBroker({ hub }) }) };
}, { capabilities, codec, areas });

const driver = defaultDriver();
function tempDir() {
  const dir = mkdtempSync(join(tmpdir(), 'durably-enc-'));
  return { dir, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
}

engineSuite(`local/${driver}, encrypted`, async () => {
  const { dir, cleanup } = tempDir();
  return { connect: async () => ({ storage: new LocalStorage({ path: dir, driver }), broker: new LocalBroker({ path: dir, driver }) }), cleanup };
}, { capabilities, codec, areas });

// At rest: the SQLite file's bytes (with its WAL), and every row of every table.
encryptionSuite(`local/${driver}`, async () => {
  const { dir, cleanup } = tempDir();
  return {
    connect: async () => ({ storage: new LocalStorage({ path: dir, driver }), broker: new LocalBroker({ path: dir, driver }) }),
    cleanup,
    dump: async () => {
      const out: RawLocation[] = [];
      for (const name of readdirSync(dir)) out.push({ where: `file ${name}`, text: readFileSync(join(dir, name)).toString('latin1') });
      const db = openSqlite(join(dir, 'durably.db'), driver);
      try {
        const tables = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).all() as Array<{ name: string }>;
        for (const { name } of tables) {
          const rows = db.prepare(`SELECT * FROM "${name}"`).all();
          out.push({ where: `table ${name}`, text: JSON.stringify(rows, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v instanceof Uint8Array ? Buffer.from(v).toString('latin1') : v)) });
        }
      } finally {
        db.close();
      }
      return out;
    },
  };
});
