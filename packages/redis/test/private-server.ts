import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freeServerPort } from '@durably/testing/ports';

/**
 * A private redis-server on a port of its own (AOF with appendfsync always, its own data directory),
 * for tests that kill, restart or delay a server: the shared server is never touched.
 */
export class PrivateRedis {
  port = 0;
  private server?: ChildProcess;
  private dataDir?: string;

  /** Its data directory, made on first use. */
  get dir(): string {
    return (this.dataDir ??= mkdtempSync(join(tmpdir(), 'durably-redis-')));
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}/0`;
  }

  /** Picks a port that nothing listens on now, below the ephemeral range (and starts nothing there). */
  async pickPort(): Promise<number> {
    return (this.port = await freeServerPort());
  }

  /** Starts redis-server on `port`; rejects with its own output if it exits or does not answer in time. */
  async start(): Promise<void> {
    let output = '';
    const child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--appendonly', 'yes', '--appendfsync', 'always', '--save', ''], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
    child.stderr!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
    this.server = child;
    const probe = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
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
    throw new Error(`private redis-server on port ${this.port} did not start (exit code ${child.exitCode}):\n${output.split('\n').slice(-10).join('\n')}`);
  }

  /** The first start picks a port, and tries another if that one is taken. */
  async startOnSomePort(): Promise<void> {
    let last: unknown;
    for (let attempt = 0; attempt < 3; attempt++) {
      await this.pickPort();
      try {
        return await this.start();
      } catch (err) {
        last = err;
        console.error(String(err));
      }
    }
    throw last;
  }

  /** SIGKILLs the server (as a crash would), by its PID. */
  kill(): Promise<void> {
    const server = this.server;
    return new Promise((resolve) => {
      if (!server || server.exitCode !== null) return resolve();
      server.once('exit', () => resolve());
      server.kill('SIGKILL');
    });
  }

  async dispose(): Promise<void> {
    await this.kill();
    if (this.dataDir) rmSync(this.dataDir, { recursive: true, force: true });
  }
}
