import { expect, it } from 'vitest';
import { MemoryBroker, MemoryStorage, StorageError, connect, type Logger, type Storage } from '@durably/core';

function recorder(): Logger & { warnings: Array<{ msg: string; fields?: Record<string, unknown> }> } {
  const warnings: Array<{ msg: string; fields?: Record<string, unknown> }> = [];
  const logger: Logger = { debug() {}, info() {}, warn: (msg, fields) => void warnings.push({ msg, fields }), error() {}, child: () => logger };
  return Object.assign(logger, { warnings });
}

/** A storage whose migrate() fails `failures` times with `error()`, then works. */
function downFor(failures: number, error: () => Error): Storage & { attempts: number } {
  const inner = new MemoryStorage();
  let attempts = 0;
  return Object.assign(
    new Proxy(inner, {
      get(target, prop, receiver) {
        if (prop === 'attempts') return attempts;
        if (prop === 'migrate') {
          return async () => {
            attempts++;
            if (attempts <= failures) throw error();
            return target.migrate();
          };
        }
        const value = Reflect.get(target, prop, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    }),
  ) as Storage & { attempts: number };
}

const refused = () => new StorageError('Postgres at postgres://db.internal:5432/app is unreachable: connect ECONNREFUSED 10.0.0.7:5432', { cause: Object.assign(new Error('connect ECONNREFUSED 10.0.0.7:5432'), { code: 'ECONNREFUSED' }) });

it('waits for a storage that is down, with backoff, logging each wait with the address, then connects', async () => {
  const storage = downFor(3, refused);
  const logger = recorder();
  const t0 = Date.now();
  const client = await connect({ storage, broker: new MemoryBroker(), logger, connectTimeout: '30s' });
  expect(storage.attempts).toBe(4);
  expect(Date.now() - t0).toBeGreaterThanOrEqual(250 + 500 + 1000 - 50);
  expect(logger.warnings).toHaveLength(3);
  expect(logger.warnings[0].msg).toContain('waiting for the storage');
  expect(logger.warnings[0].msg).toContain('postgres://db.internal:5432/app');
  expect(logger.warnings.map((w) => w.fields?.retryInMs)).toEqual([250, 500, 1000]);
  await client.close();
});

it('fails at once for an error that waiting will not fix (wrong password)', async () => {
  const storage = downFor(5, () => new StorageError('Postgres at postgres://app:***@db/app refused the login', { cause: Object.assign(new Error('password authentication failed for user "app"'), { code: '28P01' }) }));
  const logger = recorder();
  await expect(connect({ storage, broker: new MemoryBroker(), logger })).rejects.toThrow(/refused the login/);
  expect(storage.attempts).toBe(1);
  expect(logger.warnings).toHaveLength(0);
});

it('gives up after connectTimeout with the last error, and tries again on the next use', async () => {
  const storage = downFor(4, refused);
  const logger = recorder();
  const t0 = Date.now();
  const error = await connect({ storage, broker: new MemoryBroker(), logger, connectTimeout: '600ms' }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(StorageError);
  expect((error as Error).message).toMatch(/unreachable.*gave up after \d+ attempts/);
  expect(Date.now() - t0).toBeLessThan(5000);
  expect(logger.warnings.length).toBeGreaterThanOrEqual(1);

  // A failure is not remembered: a later use reaches the storage once it is back.
  const { Client } = await import('@durably/core');
  const client = new Client({ storage, broker: new MemoryBroker(), logger, connectTimeout: 0 });
  await expect(client.ensureReady()).rejects.toBeInstanceOf(StorageError);
  while (storage.attempts < 4) await client.ensureReady().catch(() => undefined);
  await expect(client.ensureReady()).resolves.toBeUndefined();
});
