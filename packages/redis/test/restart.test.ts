import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { Redis } from 'ioredis';
import { serverRestartScenario } from '@durably/testing';
import { RedisBroker, RedisStorage } from '../src/index.js';
import { serverAvailable } from './harness.js';

/**
 * A restart of a Redis with AOF (appendfsync always) during 200 runs loses nothing: a private
 * redis-server on its own port is SIGKILLed mid-run and started again on the same data directory.
 */
const canRun = await serverAvailable();
const PORT = 56379 + Math.floor(Math.random() * 1000);
let dir = '';
let server: ChildProcess | undefined;

async function startServer(): Promise<void> {
  server = spawn('redis-server', ['--port', String(PORT), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'always', '--save', ''], { stdio: 'ignore' });
  const probe = new Redis(`redis://127.0.0.1:${PORT}`, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  probe.on('error', () => undefined);
  for (let i = 0; i < 100; i++) {
    try {
      await probe.connect();
      await probe.ping();
      probe.disconnect();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error('private redis-server did not start');
}

function killServer(): Promise<void> {
  return new Promise((resolve) => {
    if (!server || server.exitCode !== null) return resolve();
    server.once('exit', () => resolve());
    server.kill('SIGKILL');
  });
}

describe.skipIf(!canRun)('redis server restart (AOF)', () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'durably-redis-'));
    await startServer();
  });

  afterAll(async () => {
    await killServer();
    rmSync(dir, { recursive: true, force: true });
  });

  it('completes all 200 runs after the server is killed and restarted mid-run', async () => {
    const url = `redis://127.0.0.1:${PORT}/0`;
    await serverRestartScenario({
      connect: () => ({ storage: new RedisStorage({ url }), broker: new RedisBroker({ url }) }),
      crash: () => killServer(),
      restart: () => startServer(),
    });
  }, 180_000);
});
