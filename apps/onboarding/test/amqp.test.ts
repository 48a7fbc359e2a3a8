import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import amqp from 'amqplib';
import { RabbitMQBroker } from '@durably/rabbitmq';

/**
 * The onboarding app on the RabbitMQ broker with each storage, chosen by DURABLY_STORAGE and
 * DURABLY_BROKER alone: the app's code and config are the same as on the embedded default.
 */
const run = promisify(execFile);
const appDir = resolve(import.meta.dirname, '..');
const AMQP_URL = process.env.DURABLY_TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const PG_URL = process.env.DURABLY_TEST_POSTGRES_URL ?? 'postgres://root@127.0.0.1:5432/test';
const REDIS_URL = process.env.DURABLY_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0';

async function reachable(what: string, probe: () => Promise<unknown>): Promise<boolean> {
  try {
    await probe();
    return true;
  } catch (err) {
    if (process.env.CI) throw new Error(`${what} is not reachable (CI=true requires it): ${(err as Error).message}`);
    return false;
  }
}

const rabbit = await reachable('RabbitMQ', async () => {
  const b = new RabbitMQBroker({ url: AMQP_URL, prefix: 'durably-app-probe' });
  try {
    await b.migrate();
    await b.dropTopology();
  } finally {
    await b.close();
  }
});

const prefixes: string[] = [];
const dirs: string[] = [];
afterAll(async () => {
  for (const prefix of prefixes) {
    const janitor = new RabbitMQBroker({ url: AMQP_URL, prefix });
    await janitor.dropTopology(['durably.default']).finally(() => janitor.close());
  }
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Runs the app with the given storage URL and a RabbitMQ broker on a prefix of its own. */
async function onboard(storage: string) {
  const prefix = `durably-app-${randomBytes(4).toString('hex')}`;
  prefixes.push(prefix);
  const { stdout } = await run(process.execPath, ['--import', 'tsx', '--conditions=@durably/source', join(appDir, 'src/main.ts'), '--sleep', '300ms', '--user', 'ana'], {
    cwd: appDir,
    env: { ...process.env, DURABLY_STORAGE: storage, DURABLY_BROKER: `${AMQP_URL}?prefix=${prefix}` },
    timeout: 60_000,
  });
  const lines = stdout.trim().split('\n');
  for (const fragment of ['run created', 'step send-welcome-email completed', 'sleeping until', 'woke up', 'step send-tips-email completed', 'run completed']) {
    expect(lines.some((l) => l.includes(fragment)), `"${fragment}" in:\n${stdout}`).toBe(true);
  }
  expect(lines.at(-1)).toBe('result: "Onboarding complete"');
  // The run's messages went through RabbitMQ: the app's broker declared its queue there, and left it empty.
  const connection = await amqp.connect(AMQP_URL);
  try {
    const channel = await connection.createChannel();
    expect(await channel.checkQueue(`${prefix}.q.durably.default`)).toMatchObject({ messageCount: 0 });
  } finally {
    await connection.close();
  }
}

describe.skipIf(!rabbit)('onboarding on the RabbitMQ broker', () => {
  it('runs on file storage + amqp', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'durably-app-amqp-'));
    dirs.push(dir);
    await onboard(`file:${dir}`);
  });

  it('runs on postgres + amqp', async () => {
    const pg = (await import('pg')).default;
    const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 2000 });
    if (!(await reachable('PostgreSQL', () => client.connect()))) return;
    const schema = `durably_app_${randomBytes(4).toString('hex')}`;
    try {
      await onboard(`${PG_URL}?schema=${schema}`);
      const { rows } = await client.query(`SELECT status FROM "${schema}".runs`);
      expect(rows).toEqual([{ status: 'completed' }]);
    } finally {
      await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await client.end();
    }
  });

  it('runs on redis + amqp', async () => {
    const { Redis } = await import('ioredis');
    const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
    redis.on('error', () => undefined);
    if (!(await reachable('Redis', () => redis.connect()))) return;
    const prefix = `durably-app-${randomBytes(4).toString('hex')}`;
    try {
      await onboard(`${REDIS_URL}?prefix=${prefix}`);
      const keys = await redis.keys(`{${prefix}}:run:*`);
      expect(keys).toHaveLength(1);
      expect(await redis.hget(keys[0], 'status')).toBe('completed');
    } finally {
      const keys = await redis.keys(`{${prefix}}:*`);
      if (keys.length) await redis.del(...keys);
      redis.disconnect();
    }
  });
});
