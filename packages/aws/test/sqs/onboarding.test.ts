import pg from 'pg';
import { afterAll, expect, it } from 'vitest';
import { REGION, SQS_ENDPOINT, uniqueName } from '../harness.js';
import { runOnboarding } from '../onboarding.js';

// Postgres storage with the SQS broker, by environment variables alone. Outside the network namespace
// (the machine's Postgres is on its loopback); without a server it skips, except under CI=true.
const PG_URL = process.env.DURABLY_TEST_POSTGRES_URL ?? 'postgres://root@127.0.0.1:5432/test';
const schema = `durably_aws_app_${Date.now().toString(36)}`;
const db = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 2000 });
const reachable = await db.connect().then(
  () => true,
  (err: Error) => {
    if (process.env.CI) throw new Error(`PostgreSQL is not reachable at ${PG_URL} (CI=true requires it): ${err.message}`);
    return false;
  },
);
afterAll(async () => {
  if (!reachable) return;
  await db.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await db.end();
});

it.skipIf(!reachable)('completes the onboarding app on postgres + sqs', async () => {
  const lines = await runOnboarding({ DURABLY_STORAGE: `${PG_URL}?schema=${schema}`, DURABLY_BROKER: `sqs://${uniqueName('app')}?region=${REGION}&endpoint=${SQS_ENDPOINT}` });
  expect(lines.some((l) => l.includes('woke up'))).toBe(true);
  expect(lines.at(-1)).toBe('result: "Onboarding complete"');
  const { rows } = await db.query(`SELECT status FROM "${schema}".runs`);
  expect(rows).toEqual([{ status: 'completed' }]);
});
