import { randomBytes } from 'node:crypto';
import { describe } from 'vitest';
import pg from 'pg';
import { aesGcmCodec } from '@durably/core';
import { encryptionSuite, engineSuite, type RawLocation } from '@durably/testing';
import { PostgresBroker, PostgresStorage } from '../src/index.js';
import { PG_URL, dropSchema, serverAvailable, uniqueSchema } from './harness.js';
import { capabilities } from './capabilities.js';

const available = await serverAvailable();

function backends(schema: string) {
  return { storage: new PostgresStorage({ url: PG_URL, schema, max: 4 }), broker: new PostgresBroker({ url: PG_URL, schema, max: 4 }) };
}

/** Every row of every table of the schema, as JSON, read with pg around the adapter. */
async function dump(schema: string): Promise<RawLocation[]> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    const tables = await client.query<{ table_name: string }>(`SELECT table_name FROM information_schema.tables WHERE table_schema = $1`, [schema]);
    const out: RawLocation[] = [];
    for (const { table_name: name } of tables.rows) {
      const rows = await client.query<{ j: string }>(`SELECT row_to_json(t)::text AS j FROM "${schema}"."${name}" t`);
      out.push({ where: `table ${name}`, text: rows.rows.map((r) => r.j).join('\n') });
    }
    return out;
  } finally {
    await client.end();
  }
}

describe.skipIf(!available)('postgres adapter, encrypted', () => {
  engineSuite('postgres+postgres, encrypted', async () => {
    const schema = uniqueSchema();
    return { connect: async () => backends(schema), cleanup: () => dropSchema(schema) };
  }, { capabilities, codec: aesGcmCodec({ keys: { k1: randomBytes(32) } }), areas: ['basics', 'steps', 'hooks', 'messages', 'children'] });

  encryptionSuite('postgres', async () => {
    const schema = uniqueSchema();
    return { connect: async () => backends(schema), dump: () => dump(schema), cleanup: () => dropSchema(schema) };
  });
});
