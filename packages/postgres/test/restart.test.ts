import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { serverRestartScenario } from '@durably/testing';
import { freeServerPort } from '@durably/testing/ports';
import { PostgresBroker, PostgresStorage } from '../src/index.js';
import { serverAvailable } from './harness.js';

/**
 * A restart of the PostgreSQL server during a run of 200 workflows loses nothing. The test starts a
 * private server on its own port, kills it (immediate shutdown, like a crash) mid-run, starts it
 * again, and checks that every run completes with each step recorded once.
 */
const binDir = existsSync('/usr/lib/postgresql') ? join('/usr/lib/postgresql', readdirSync('/usr/lib/postgresql').sort().at(-1)!, 'bin') : '';
const canRun = binDir !== '' && existsSync(join(binDir, 'initdb')) && (await serverAvailable());
// Below the ephemeral range: while the server is down, no outgoing connection can take its port.
const PORT = await freeServerPort();
let dataDir = '';

function asPostgres(cmd: string, args: string[]): void {
  // initdb and postgres refuse to run as root: run them as the postgres system user.
  const result = spawnSync('runuser', ['-u', 'postgres', '--', join(binDir, cmd), ...args], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${cmd} failed: ${result.stderr || result.stdout}`);
}

function startServer(): void {
  const start = () => asPostgres('pg_ctl', ['-D', dataDir, '-l', join(dataDir, 'server.log'), '-w', '-t', '60', '-o', `-p ${PORT} -k ${dataDir} -c listen_addresses=127.0.0.1`, 'start']);
  try {
    start();
  } catch (err) {
    // Under a loaded machine the first start can time out: say why, and try once more.
    const log = existsSync(join(dataDir, 'server.log')) ? readFileSync(join(dataDir, 'server.log'), 'utf8').split('\n').slice(-15).join('\n') : '(no server log)';
    console.error(`private postgres on port ${PORT} did not start:\n${log}`);
    try {
      asPostgres('pg_ctl', ['-D', dataDir, '-m', 'immediate', 'stop']);
    } catch {
      // not running
    }
    try {
      start();
    } catch {
      throw err;
    }
  }
}

function crashServer(): void {
  asPostgres('pg_ctl', ['-D', dataDir, '-m', 'immediate', '-w', 'stop']);
}

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
    await serverRestartScenario({
      connect: () => ({ storage: new PostgresStorage({ url, max: 5 }), broker: new PostgresBroker({ url, max: 5, pollIntervalMs: 500 }) }),
      crash: async () => crashServer(),
      restart: async () => startServer(),
    });
  }, 180_000);
});
