import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The PostgreSQL of the machine (CI included); PGURL overrides it. */
export const PG_URL = process.env.DURABLY_TEST_POSTGRES_URL ?? 'postgres://root@127.0.0.1:5432/test';

/** A fresh schema per harness, dropped afterwards, so test files and runs never collide. */
export function uniqueSchema(): string {
  return `durably_t_${randomBytes(6).toString('hex')}`;
}

export async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}

/** Outside CI a missing server skips the adapter tests; in CI it is a failure. */
export async function serverAvailable(): Promise<boolean> {
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.end();
    return true;
  } catch (err) {
    if (process.env.CI) throw new Error(`PostgreSQL is not reachable at ${PG_URL} (CI=true requires it): ${(err as Error).message}`);
    return false;
  }
}
