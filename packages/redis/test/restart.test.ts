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
let PORT = 0;
let dir = '';
let server: ChildProcess | undefined;

/** Starts redis-server on PORT; rejects with its own output if it exits or does not answer in time. */
async function startServer(): Promise<void> {
  let output = '';
  const child = spawn('redis-server', ['--port', String(PORT), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'always', '--save', ''], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
  child.stderr!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
  server = child;
  const probe = new Redis(`redis://127.0.0.1:${PORT}`, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  probe.on('error', () => undefined);
  for (let i = 0; i < 300 && child.exitCode === null; i++) {
    try {
      await probe.connect();
      await probe.ping();
      probe.disconnect();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  probe.disconnect();
  child.kill('SIGKILL');
  throw new Error(`private redis-server on port ${PORT} did not start (exit code ${child.exitCode}):\n${output.split('\n').slice(-10).join('\n')}`);
}

/** The first start picks a free-looking random port, and tries another if that one is taken. */
async function startOnSomePort(): Promise<void> {
  let last: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    PORT = 56379 + Math.floor(Math.random() * 1000);
    try {
      return await startServer();
    } catch (err) {
      last = err;
      console.error(String(err));
    }
  }
  throw last;
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
    await startOnSomePort();
  }, 120_000);

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
