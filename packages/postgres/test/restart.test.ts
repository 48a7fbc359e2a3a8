import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, Worker, sleep, step, workflow, type DurablyEvent } from '@durably/core';
import { PostgresBroker, PostgresStorage } from '../src/index.js';
import { serverAvailable } from './harness.js';

/**
 * A restart of the PostgreSQL server during a run of 200 workflows loses nothing. The test starts a
 * private server on its own port, kills it (immediate shutdown, like a crash) mid-run, starts it
 * again, and checks that every run completes with each step recorded once.
 */
const binDir = existsSync('/usr/lib/postgresql') ? join('/usr/lib/postgresql', readdirSync('/usr/lib/postgresql').sort().at(-1)!, 'bin') : '';
const canRun = binDir !== '' && existsSync(join(binDir, 'initdb')) && (await serverAvailable());
const PORT = 55432 + Math.floor(Math.random() * 1000);
let dataDir = '';

function asPostgres(cmd: string, args: string[]): void {
  // initdb and postgres refuse to run as root: run them as the postgres system user.
  const result = spawnSync('runuser', ['-u', 'postgres', '--', join(binDir, cmd), ...args], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${cmd} failed: ${result.stderr || result.stdout}`);
}

function startServer(): void {
  asPostgres('pg_ctl', ['-D', dataDir, '-l', join(dataDir, 'server.log'), '-w', '-t', '30', '-o', `-p ${PORT} -k ${dataDir} -c listen_addresses=127.0.0.1`, 'start']);
}

function crashServer(): void {
  asPostgres('pg_ctl', ['-D', dataDir, '-m', 'immediate', '-w', 'stop']);
}

const work = step('pg-restart.work', async (label: string) => `${label}-done`);
const flow = workflow('pg-restart.flow', async (n: number) => {
  const a = await work(`a${n}`);
  await sleep(300);
  const b = await work(`b${n}`);
  const c = await work(`c${n}`);
  return [a, b, c];
});

describe.skipIf(!canRun)('postgres server restart', () => {
  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'durably-pg-'));
    chownSync(dataDir, Number(execFileSync('id', ['-u', 'postgres']).toString().trim()), Number(execFileSync('id', ['-g', 'postgres']).toString().trim()));
    asPostgres('initdb', ['-D', dataDir, '-A', 'trust', '-U', 'root', '--no-sync']);
    startServer();
  }, 60_000);

  afterAll(() => {
    try {
      asPostgres('pg_ctl', ['-D', dataDir, '-m', 'immediate', 'stop']);
    } catch {
      // already stopped
    }
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('completes all 200 runs after the server is killed and restarted mid-run', async () => {
    const url = `postgres://root@127.0.0.1:${PORT}/postgres`;
    const clients: Client[] = [];
    const workers: Worker[] = [];
    const connect = () => {
      const c = new Client({ storage: new PostgresStorage({ url, max: 5 }), broker: new PostgresBroker({ url, max: 5, pollIntervalMs: 500 }) });
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
      // Let some finish, then crash the server while the rest are mid-flight.
      const deadline = Date.now() + 30_000;
      while ((await client.listRuns({ workflow: 'pg-restart.flow', status: 'completed', limit: 1000 })).runs.length < 20 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
      }
      crashServer();
      await new Promise((r) => setTimeout(r, 1500));
      startServer();

      const results = await Promise.all(runs.map((r) => r.result({ timeout: '120s' })));
      results.forEach((result, i) => expect(result).toEqual([`a${i}-done`, `b${i}-done`, `c${i}-done`]));
      for (const run of runs) {
        const events: DurablyEvent[] = await run.events();
        const completed = events.filter((e) => e.type === 'step_completed');
        expect(new Set(completed.map((e) => e.correlationId)).size).toBe(completed.length);
        expect(completed).toHaveLength(3);
        expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
      }
    } finally {
      await Promise.all(workers.map((w) => w.stop()));
      await Promise.all(clients.map((c) => c.close()));
    }
  }, 180_000);
});
