import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { StorageError, connect, type Logger } from '@durably/core';
import { PG_URL, serverAvailable } from './harness.js';

const available = await serverAvailable();

function recorder(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  const logger: Logger = { debug() {}, info() {}, warn: (msg) => void warnings.push(msg), error() {}, child: () => logger };
  return Object.assign(logger, { warnings });
}

/** A local port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe.skipIf(!available)('postgres: reaching the server', () => {
  it('keeps trying an unreachable server for connectTimeout, logging the address, then says it gave up and what to check', async () => {
    const port = await closedPort();
    const logger = recorder();
    const t0 = Date.now();
    const error = await connect({ storage: `postgres://app:secret@127.0.0.1:${port}/app`, broker: 'memory:', connectTimeout: '1500ms', logger }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StorageError);
    const message = (error as Error).message;
    expect(message).toContain(`127.0.0.1:${port}`);
    expect(message).toContain('is unreachable');
    expect(message).toContain('Check that the server runs');
    expect(message).toMatch(/gave up after \d+ attempts/);
    expect(message).not.toContain('secret');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(700);
    expect(logger.warnings.length).toBeGreaterThanOrEqual(2);
    expect(logger.warnings[0]).toContain('waiting for the storage');
    expect(logger.warnings[0]).toContain(`postgres://app:***@127.0.0.1:${port}/app`);
  });

  it('fails at once for a database that does not exist: waiting would not help', async () => {
    const url = new URL(PG_URL);
    url.pathname = '/durably_no_such_database';
    const logger = recorder();
    const error = await connect({ storage: url.toString(), broker: 'memory:', connectTimeout: '60s', logger }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StorageError);
    expect((error as Error).message).toContain('Create the database');
    expect(logger.warnings).toEqual([]);
  });
});
