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

async function start(env: Record<string, string>, args: string[] = []) {
  return exec(process.execPath, ['--import', 'tsx', '--conditions=@durably/source', join(appDir, 'src/main.ts'), ...args], {
    cwd: appDir,
    env: { ...process.env, DURABLY_LOG_LEVEL: 'error', ...env },
    timeout: 60_000,
  });
}

const emailsOf = (stdout: string, user: string) => [...stdout.matchAll(new RegExp(`: "([a-z-]+)" to ${user}@example\\.com$`, 'gm'))].map((m) => m[1]);

it('enrolls the signups by schedule, spaces the emails by (short) days, and stops a campaign on unsubscribe (embedded default)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'durably-drip-'));
  dirs.push(dir);
  const { stdout } = await start({ DURABLY_STORAGE: `file:${dir}`, DURABLY_BROKER: 'local:' });
  const all = ['welcome', 'getting-started-tips', 'customer-story', 'upgrade-offer'];
  expect(emailsOf(stdout, 'ana')).toEqual(all);
  expect(emailsOf(stdout, 'cy')).toEqual(all);
  expect(emailsOf(stdout, 'dan')).toEqual(all); // signed up a day later, enrolled by a later slot
  expect(emailsOf(stdout, 'bob')).toEqual(['welcome', 'getting-started-tips']);
  expect(stdout).toMatch(/bob@example\.com unsubscribes/);
  // The waits are 2, 3 and 5 days: the last email comes about 11 days after the first.
  const day = (user: string, template: string) => Number(new RegExp(`day +([\\d.]+): "${template}" to ${user}@`).exec(stdout)![1]);
  const span = day('ana', 'upgrade-offer') - day('ana', 'welcome');
  expect(span).toBeGreaterThanOrEqual(10);
  expect(stdout.trim().split('\n').at(-1)).toBe('result: 4 users enrolled by the schedule; ana: 4 emails; bob: 2 emails, unsubscribed; cy: 4 emails; dan: 4 emails');
});

it('runs on Redis storage and broker by DURABLY_STORAGE and DURABLY_BROKER alone', async () => {
  const url = process.env.DURABLY_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0';
  const prefix = `durably-drip-${Date.now().toString(36)}-${process.pid}`;
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
    const { stdout } = await start({ DURABLY_STORAGE: target, DURABLY_BROKER: target }, ['--day', '300ms', '--users', 'ana,bob', '--late', '', '--unsubscribe', 'bob']);
    expect(stdout.trim().split('\n').at(-1)).toBe('result: 2 users enrolled by the schedule; ana: 4 emails; bob: 2 emails, unsubscribed');
    // The schedule was deleted at the end; the runs are in Redis under the prefix.
    expect(await redis.keys(`{${prefix}}:sched:drip-enroll`)).toEqual([]);
    expect((await redis.keys(`{${prefix}}:run:*`)).length).toBeGreaterThanOrEqual(3);
  } finally {
    const keys = await redis.keys(`{${prefix}}:*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  }
});

it('refuses bad options with the usage', async () => {
  const error = (await start({ DURABLY_STORAGE: 'memory:', DURABLY_BROKER: 'memory:' }, ['--day', '1ms']).catch((e: unknown) => e)) as { code: number; stderr: string };
  expect(error.code).toBe(2);
  expect(error.stderr).toContain('--day 1ms: use 100ms to 1h.');
});
