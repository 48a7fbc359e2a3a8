import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { Client, Worker, sleep, step, workflow, type DurablyEvent } from '@durably/core';
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

const work = step('redis-restart.work', async (label: string) => `${label}-done`);
const flow = workflow('redis-restart.flow', async (n: number) => {
  const a = await work(`a${n}`);
  await sleep(300);
  const b = await work(`b${n}`);
  const c = await work(`c${n}`);
  return [a, b, c];
});

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
    const clients: Client[] = [];
    const workers: Worker[] = [];
    const connect = () => {
      const c = new Client({ storage: new RedisStorage({ url }), broker: new RedisBroker({ url }) });
      clients.push(c);
      return c;
    };
    try {
      const client = connect();
      await client.ensureReady();
      for (let i = 0; i < 2; i++) {
        const w = new Worker(connect(), { workflows: [flow], concurrency: 20, staleAfter: '3s', recoveryInterval: '1s', visibilityTimeout: '5s', timerSweepInterval: '500ms' });
        workers.push(w);
        await w.start();
      }
      const runs = await Promise.all(Array.from({ length: 200 }, (_, i) => client.start(flow, i)));
      const deadline = Date.now() + 30_000;
      while ((await client.listRuns({ workflow: 'redis-restart.flow', status: 'completed', limit: 1000 })).runs.length < 20 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
      }
      await killServer();
      await new Promise((r) => setTimeout(r, 1000));
      await startServer();

      const results = await Promise.all(runs.map((r) => r.result({ timeout: '120s' })));
      results.forEach((result, i) => expect(result).toEqual([`a${i}-done`, `b${i}-done`, `c${i}-done`]));
      for (const run of runs) {
        const events: DurablyEvent[] = await run.events();
        const completed = events.filter((e) => e.type === 'step_completed');
        expect(completed).toHaveLength(3);
        expect(new Set(completed.map((e) => e.correlationId)).size).toBe(3);
        expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
      }
    } finally {
      await Promise.all(workers.map((w) => w.stop()));
      await Promise.all(clients.map((c) => c.close()));
    }
  }, 180_000);
});
