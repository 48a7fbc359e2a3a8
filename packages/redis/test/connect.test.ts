import { afterAll, describe, expect, it } from 'vitest';
import { StorageError, connect, type Logger } from '@durably/core';
import { serverAvailable } from './harness.js';
import { PrivateRedis } from './private-server.js';

const canRun = await serverAvailable();

function recorder(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  const logger: Logger = { debug() {}, info() {}, warn: (msg) => void warnings.push(msg), error() {}, child: () => logger };
  return Object.assign(logger, { warnings });
}

describe.skipIf(!canRun)('redis: reaching the server', () => {
  const server = new PrivateRedis();
  afterAll(() => server.dispose());

  it('names the address and the fix when the server is unreachable', async () => {
    const port = await server.pickPort();
    const error = await connect({ storage: `redis://:secret@127.0.0.1:${port}/0?prefix=unreachable`, broker: 'memory:', connectTimeout: 0, logger: recorder() }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StorageError);
    const message = (error as Error).message;
    expect(message).toContain(`127.0.0.1:${port}`);
    expect(message).toContain('ECONNREFUSED');
    expect(message).toContain('Check that the server runs');
    expect(message).not.toContain('secret');
    expect(message).not.toContain('maxRetriesPerRequest');
  });

  it('waits for a server that comes up after connect() started (a worker restarted during an outage)', async () => {
    await server.pickPort();
    const logger = recorder();
    const connecting = connect({ storage: `${server.url}?prefix=late`, broker: `${server.url}?prefix=late`, connectTimeout: '60s', logger });
    // Nothing listens yet: connect() keeps trying and says what it waits for.
    await new Promise((r) => setTimeout(r, 4000));
    expect(logger.warnings.length).toBeGreaterThanOrEqual(1);
    expect(logger.warnings[0]).toContain(`127.0.0.1:${server.port}`);
    await server.start();
    const client = await connecting;
    const page = await client.listRuns();
    expect(page.runs).toEqual([]);
    await client.close();
  }, 60_000);
});
