import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
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

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'durably-app-'));
  dirs.push(dir);
  return dir;
}

it('prints its usage for --help, and refuses bad options and durations with the usage, before any run exists', async () => {
  const dir = tempDir();
  const env = { DURABLY_STORAGE: `file:${dir}`, DURABLY_BROKER: 'local:' };
  const help = await start(env, ['--help']);
  expect(help.stdout).toContain('Usage: npm start -- [--user <id>] [--sleep <duration>] [--key <key>]');
  expect(help.stdout).toContain('--sleep <duration>');
  for (const [args, message] of [
    [['--sleep', '30'], '--sleep 30 has no unit: write 30s, 30m or 30ms.'],
    [['--sleep', '1dy'], '--sleep "1dy" is not a duration'],
    [['--bogus'], "Unknown option '--bogus'"],
    [['--user', ''], '--user ""'],
  ] as const) {
    const error = (await start(env, [...args]).catch((e: unknown) => e)) as { code: number; stderr: string; stdout: string };
    expect(error.code, `${args.join(' ')}`).toBe(2);
    expect(error.stderr).toContain(message);
    expect(error.stderr).toContain('Usage: npm start --');
    expect(error.stderr).not.toMatch(/^\s+at /m); // no stack trace
    expect(error.stdout).toBe('');
  }
  expect(existsSync(join(dir, 'durably.db'))).toBe(false); // nothing was started
});

it('says so when --key names a run started with other arguments, and shows that run under its own header', async () => {
  const dir = tempDir();
  const env = { DURABLY_STORAGE: `file:${dir}`, DURABLY_BROKER: 'local:' };
  const first = await start(env, ['--key', 'k1', '--user', 'ana', '--sleep', '50ms']);
  const runId = /^run (\S+) /.exec(first.stdout)![1];
  const second = await start(env, ['--key', 'k1', '--user', 'bob', '--sleep', '50ms']);
  const lines = second.stdout.trim().split('\n');
  expect(lines[0]).toBe(`run ${runId} (onboarding for ana, sleep 50ms)`);
  expect(lines[1]).toContain('the key "k1" belongs to this earlier run, started for ana with sleep 50ms; --user bob --sleep 50ms are ignored');
  expect(second.stdout).not.toContain('bob (');
  expect(lines.at(-1)).toBe('result: "Onboarding complete"');
  expect(second.stderr).toContain('the idempotency key was already used by a run with other arguments');
});

it('on Ctrl-C during the sleep, says the run is suspended and prints the exact command that resumes it', async () => {
  const dir = tempDir();
  const env = { ...process.env, DURABLY_STORAGE: `file:${dir}`, DURABLY_BROKER: 'local:' };
  const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=@durably/source', join(appDir, 'src/main.ts'), '--sleep', '3s', '--user', 'ana'], { cwd: appDir, env });
  let stdout = '';
  let interrupted = false;
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    if (!interrupted && stdout.includes('sleeping until')) interrupted = child.kill('SIGINT');
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  expect(code, stdout).toBe(130);
  const runId = /^run (\S+) /.exec(stdout)![1];
  expect(stdout).toMatch(new RegExp(`Stopped\\. Run ${runId} is suspended, sleeping until \\S+Z\\.`));
  const command = /Resume it with:\n {2}(npm start -- .*)\n/.exec(stdout)![1];
  expect(command).toMatch(/^npm start -- --key onboarding-[0-9a-f]{8} --user ana --sleep 3s$/);
  // The printed command, run again, carries on the same run from its log.
  const resumed = await start({ DURABLY_STORAGE: `file:${dir}`, DURABLY_BROKER: 'local:' }, command.replace(/^npm start -- /, '').split(' '));
  const lines = resumed.stdout.trim().split('\n');
  expect(lines[0]).toBe(`run ${runId} (onboarding for ana, sleep 3s)`);
  expect(lines[1]).toContain('attaching to it');
  expect(resumed.stdout.match(/step send-welcome-email completed/g)).toHaveLength(1);
  expect(lines.at(-1)).toBe('result: "Onboarding complete"');
});

it('runs on the memory backends by configuration alone', async () => {
  const { stdout } = await start({ DURABLY_STORAGE: 'memory:', DURABLY_BROKER: 'memory:' }, ['--sleep', '50ms']);
  expect(stdout.trim().split('\n').at(-1)).toBe('result: "Onboarding complete"');
});

it('names the package to install for a backend that is not installed', async () => {
  // The package is installed in this repository: the loader hides it, as on a machine without it.
  const hide = pathToFileURL(join(appDir, '../../tools/scripts/hide-packages.mjs')).href;
  const error = (await start({ DURABLY_STORAGE: 'dynamodb://runs?region=eu-west-1', DURABLY_BROKER: 'memory:', DURABLY_TEST_HIDE: '@durably/aws' }, [], [hide]).catch((e: unknown) => e)) as { stderr: string; code: number };
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
