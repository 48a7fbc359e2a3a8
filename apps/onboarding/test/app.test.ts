import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, expect, it } from 'vitest';

const run = promisify(execFile);
const appDir = resolve(import.meta.dirname, '..');
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function start(env: Record<string, string>, args: string[] = [], imports: string[] = []) {
  return run(process.execPath, ['--import', 'tsx', ...imports.flatMap((i) => ['--import', i]), '--conditions=@durably/source', join(appDir, 'src/main.ts'), ...args], {
    cwd: appDir,
    env: { ...process.env, ...env },
    timeout: 60_000,
  });
}

it('runs the onboarding sample on the embedded default and prints each step and the result', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'durably-app-'));
  dirs.push(dir);
  const { stdout } = await start({ DURABLY_STORAGE: `file:${dir}`, DURABLY_BROKER: 'local:' }, ['--sleep', '300ms', '--user', 'ana']);
  const lines = stdout.trim().split('\n');
  expect(lines[0]).toMatch(/^run \S+ \(onboarding for ana, sleep 300ms\)$/);
  const order = ['run created', 'step send-welcome-email completed: "Email sent to ana"', 'sleeping until', 'woke up', 'step send-tips-email completed: "Tips sent to ana"', 'run completed'];
  let at = 0;
  for (const fragment of order) {
    const index = lines.findIndex((l, i) => i >= at && l.includes(fragment));
    expect(index, `"${fragment}" in order in:\n${stdout}`).toBeGreaterThan(0);
    at = index + 1;
  }
  expect(lines.at(-1)).toBe('result: "Onboarding complete"');
});

it('runs on the memory backends by configuration alone', async () => {
  const { stdout } = await start({ DURABLY_STORAGE: 'memory:', DURABLY_BROKER: 'memory:' }, ['--sleep', '50ms']);
  expect(stdout.trim().split('\n').at(-1)).toBe('result: "Onboarding complete"');
});

it('names the package to install for a backend that is not installed', async () => {
  // The package is installed in this repository: the fixture hides it, as on a machine without it.
  const hide = pathToFileURL(join(appDir, 'test/fixtures/without-aws.mjs')).href;
  const error = (await start({ DURABLY_STORAGE: 'dynamodb://runs?region=eu-west-1', DURABLY_BROKER: 'memory:' }, [], [hide]).catch((e: unknown) => e)) as { stderr: string; code: number };
  expect(error.code).not.toBe(0);
  expect(error.stderr).toContain('npm install @durably/aws');
});

it('runs on Postgres storage by DURABLY_STORAGE alone (with the local broker)', async () => {
  const url = process.env.DURABLY_TEST_POSTGRES_URL ?? 'postgres://root@127.0.0.1:5432/test';
  const schema = `durably_app_${Date.now().toString(36)}`;
  const dir = mkdtempSync(join(tmpdir(), 'durably-app-pg-'));
  dirs.push(dir);
  const reachable = await import('pg').then(async ({ default: pg }) => {
    const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
    try {
      await c.connect();
      return c;
    } catch (err) {
      if (process.env.CI) throw err;
      return undefined;
    }
  });
  if (!reachable) return; // no server outside CI: nothing to run against
  try {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', '--conditions=@durably/source', join(appDir, 'src/main.ts'), '--sleep', '200ms'], {
      cwd: appDir,
      env: { ...process.env, DURABLY_STORAGE: `${url}?schema=${schema}`, DURABLY_BROKER: `local:${dir}` },
      timeout: 60_000,
    });
    expect(stdout.trim().split('\n').at(-1)).toBe('result: "Onboarding complete"');
    const { rows } = await reachable.query(`SELECT status FROM "${schema}".runs`);
    expect(rows).toEqual([{ status: 'completed' }]);
  } finally {
    await reachable.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await reachable.end();
  }
});

it('runs on Redis storage and broker by DURABLY_STORAGE and DURABLY_BROKER alone', async () => {
  const url = process.env.DURABLY_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0';
  const prefix = `durably-app-${Date.now().toString(36)}`;
  const { Redis } = await import('ioredis');
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
  } catch (err) {
    if (process.env.CI) throw err;
    return; // no server outside CI: nothing to run against
  }
  try {
    const target = `${url}?prefix=${prefix}`;
    const { stdout } = await start({ DURABLY_STORAGE: target, DURABLY_BROKER: target }, ['--sleep', '200ms']);
    expect(stdout.trim().split('\n').at(-1)).toBe('result: "Onboarding complete"');
    const keys = await redis.keys(`{${prefix}}:run:*`);
    expect(keys).toHaveLength(1);
    expect(await redis.hget(keys[0], 'status')).toBe('completed');
  } finally {
    const keys = await redis.keys(`{${prefix}}:*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  }
});
