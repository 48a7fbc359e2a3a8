import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, expect, it } from 'vitest';

const exec = promisify(execFile);
const appDir = resolve(import.meta.dirname, '..');
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function embedded(): Record<string, string> {
  const dir = mkdtempSync(join(tmpdir(), 'durably-orders-'));
  dirs.push(dir);
  return { DURABLY_STORAGE: `file:${dir}`, DURABLY_BROKER: 'local:' };
}

/** `npm start -- ...args` as the README runs it: the app's main module in a process of its own. */
async function start(env: Record<string, string>, args: string[] = []) {
  return exec(process.execPath, ['--import', 'tsx', '--conditions=@durably/source', join(appDir, 'src/main.ts'), ...args], {
    cwd: appDir,
    env: { ...process.env, DURABLY_LOG_LEVEL: 'error', ...env },
    timeout: 60_000,
  });
}

const lines = (stdout: string) => stdout.trim().split('\n');

it('charges, reserves and ships an order on the embedded default', async () => {
  const { stdout } = await start(embedded(), ['--order', 'o-happy']);
  expect(lines(stdout)[0]).toMatch(/^order o-happy: \$33\.99, run \S+$/);
  expect(stdout).toContain('step charge-payment done (attempt 1)');
  expect(stdout).toContain('step create-shipment done (attempt 1)');
  expect(lines(stdout).at(-1)).toBe('result: order o-happy completed: charged (ch_o-happy), reserved (rsv_o-happy), shipped (trk_o-happy)');
});

it('undoes inventory, then payment, when shipping fails for good (the saga compensates in reverse order)', async () => {
  const { stdout } = await start(embedded(), ['--order', 'o-saga', '--fail', 'shipping']);
  // Three attempts (2 retries), then the compensations, last registered first.
  expect(stdout.match(/step create-shipment attempt \d failed/g)).toHaveLength(3);
  const services = stdout.slice(stdout.indexOf('services:')).split('\n').slice(1, 5).map((l) => l.trim().replace(/ \(.*$/, '').replace(/ \$.*$/, ''));
  expect(services).toEqual(['payment: charged', 'inventory: reserved 2 x mug-blue, 1 x tea-sencha', 'inventory: released rsv_o-saga', 'payment: refunded']);
  expect(lines(stdout).at(-1)).toBe('result: order o-saga rolled back: create-shipment failed (carrier API unavailable (503)); compensated: release-inventory, then refund-payment');
});

it('has nothing to undo when the card is declined, and only the charge to undo when the items are out of stock', async () => {
  const env = embedded();
  const declined = await start(env, ['--order', 'o-declined', '--fail', 'payment']);
  expect(declined.stdout).toContain('step charge-payment attempt 1 failed: card declined for order o-declined, giving up'); // FatalError: no retry
  expect(lines(declined.stdout).at(-1)).toBe('result: order o-declined rolled back: charge-payment failed (card declined for order o-declined); compensated: nothing to undo');
  const stock = await start(env, ['--order', 'o-stock', '--fail', 'inventory']);
  expect(lines(stock.stdout).at(-1)).toBe('result: order o-stock rolled back: reserve-inventory failed (out of stock: mug-blue, tea-sencha); compensated: refund-payment');
});

it('charges once when the first response is lost, and a second submission of the order returns the same run', async () => {
  const env = embedded();
  const first = await start(env, ['--order', 'o-twice', '--flaky', 'payment']);
  expect(first.stdout).toContain('step charge-payment attempt 1 failed: payment service: connection reset before the response arrived, retrying');
  expect(first.stdout).toContain('step charge-payment done (attempt 2)');
  // The retry carried the same idempotency key: the service charged once.
  expect(first.stdout.match(/payment: charged/g)).toHaveLength(1);
  const runId = /run (\S+)$/m.exec(first.stdout)![1];

  const again = await start(env, ['--order', 'o-twice']);
  expect(lines(again.stdout)[0]).toBe(`order o-twice: $33.99, run ${runId}`);
  expect(again.stdout).toContain('the order was submitted before: this is its run (idempotency key "o-twice"), nothing runs twice');
  expect(again.stdout).toContain('(nothing done in this process)');
  expect(lines(again.stdout).at(-1)).toBe(lines(first.stdout).at(-1));
});

it('refuses bad options with the usage, before anything starts', async () => {
  const error = (await start(embedded(), ['--fail', 'billing']).catch((e: unknown) => e)) as { code: number; stderr: string };
  expect(error.code).toBe(2);
  expect(error.stderr).toContain('--fail "billing": use payment, inventory or shipping.');
  expect(error.stderr).toContain('Usage: npm start --');
});

it('runs the saga on Postgres storage and broker by DURABLY_STORAGE and DURABLY_BROKER alone', async () => {
  const url = process.env.DURABLY_TEST_POSTGRES_URL ?? 'postgres://root@127.0.0.1:5432/test';
  const { default: pg } = await import('pg');
  const admin = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await admin.connect();
  } catch (err) {
    if (process.env.CI) throw err;
    return; // no server outside CI: nothing to run against
  }
  const schema = `durably_orders_${Date.now().toString(36)}_${process.pid}`;
  try {
    const target = `${url}?schema=${schema}`;
    const { stdout } = await start({ DURABLY_STORAGE: target, DURABLY_BROKER: target }, ['--order', 'o-pg', '--fail', 'shipping']);
    expect(lines(stdout).at(-1)).toBe('result: order o-pg rolled back: create-shipment failed (carrier API unavailable (503)); compensated: release-inventory, then refund-payment');
    const { rows } = await admin.query(`SELECT status, idempotency_key FROM "${schema}".runs`);
    expect(rows).toEqual([{ status: 'completed', idempotency_key: 'o-pg' }]);
  } finally {
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
  }
});
