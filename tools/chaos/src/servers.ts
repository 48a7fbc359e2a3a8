/**
 * Private servers for chaos runs: a PostgreSQL cluster, a redis-server and a RabbitMQ node of the
 * tool's own, each in a temp directory on a free port, started as child processes and crashed by
 * their PID. The shared servers of the machine are never touched.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freeServerPort } from '@durably/testing/ports';
import { exited } from './processes.js';

export interface PrivateServer {
  /** What it is, for the report: `postgres`, `redis`, `rabbitmq`. */
  readonly kind: string;
  readonly url: string;
  start(): Promise<void>;
  /** Kills the server as a crash would (by its PID) and waits until it is gone. */
  crash(): Promise<void>;
  /** Crashes it if running and removes its data. */
  destroy(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves once something accepts TCP connections on the port; rejects after `ms` or when `alive()` turns false. */
export async function waitForPort(port: number, ms: number, alive: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline && alive()) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = tcpConnect(port, '127.0.0.1');
      socket.once('connect', () => (socket.destroy(), resolve(true)));
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await sleep(100);
  }
  throw new Error(`${what} on port ${port} did not accept connections within ${ms} ms${alive() ? '' : ' (it exited)'}`);
}

/** A PostgreSQL cluster made with initdb, run by the `postgres` binary as the postgres system user. */
export class PrivatePostgres implements PrivateServer {
  readonly kind = 'postgres';
  private readonly bin: string;
  private dir = '';
  private port = 0;
  private child?: ChildProcess;

  /**
   * `listen`: addresses to listen on besides 127.0.0.1, and `trust` the networks (CIDR) allowed to
   * connect from them: a worker in another network namespace reaches the server over a veth pair so.
   */
  constructor(private readonly network: { listen?: string[]; trust?: string[] } = {}) {
    const root = '/usr/lib/postgresql';
    const version = existsSync(root) ? readdirSync(root).sort((a, b) => Number(a) - Number(b)).at(-1) : undefined;
    this.bin = version ? join(root, version, 'bin') : '';
    if (!this.bin || !existsSync(join(this.bin, 'initdb'))) {
      throw new Error('PostgreSQL binaries not found under /usr/lib/postgresql/<version>/bin: install the postgresql package to run the postgres pairs.');
    }
  }

  get url(): string {
    return this.urlAt('127.0.0.1');
  }

  /** The URL through another of the addresses it listens on. */
  urlAt(host: string): string {
    return `postgres://root@${host}:${this.port}/postgres`;
  }

  private asPostgres(cmd: string, args: string[]): void {
    // initdb and postgres refuse to run as root: run them as the postgres system user.
    const runAs = process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', join(this.bin, cmd), ...args]] : [join(this.bin, cmd), args];
    const result = spawnSync(runAs[0] as string, runAs[1] as string[], { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`${cmd} failed: ${result.stderr || result.stdout}`);
  }

  /** Makes the cluster and picks its port, without starting it (so its URL is known before it is up). */
  async init(): Promise<void> {
    if (!this.dir) {
      this.dir = mkdtempSync(join(tmpdir(), 'durably-chaos-pg-'));
      if (process.getuid?.() === 0) {
        chownSync(this.dir, Number(execFileSync('id', ['-u', 'postgres']).toString()), Number(execFileSync('id', ['-g', 'postgres']).toString()));
      }
      this.asPostgres('initdb', ['-D', this.dir, '-A', 'trust', '-U', 'root', '--no-sync']);
      if (this.network.trust?.length) appendFileSync(join(this.dir, 'pg_hba.conf'), this.network.trust.map((net) => `host all all ${net} trust\n`).join(''));
      this.port = await freeServerPort();
    }
  }

  async start(): Promise<void> {
    await this.init();
    const args = ['-D', this.dir, '-p', String(this.port), '-k', this.dir, '-c', `listen_addresses=${['127.0.0.1', ...(this.network.listen ?? [])].join(',')}`, '-c', 'max_connections=300', '-c', 'fsync=off'];
    const [cmd, argv] = process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', join(this.bin, 'postgres'), ...args]] : [join(this.bin, 'postgres'), args];
    const child = spawn(cmd as string, argv as string[], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    child.stderr!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
    this.child = child;
    try {
      await waitForPort(this.port, 60_000, () => child.exitCode === null, 'private postgres');
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${log.split('\n').slice(-10).join('\n')}`);
    }
  }

  /** The postmaster's PID, from its pid file. */
  private postmasterPid(): number | undefined {
    const file = join(this.dir, 'postmaster.pid');
    return existsSync(file) ? Number(readFileSync(file, 'utf8').split('\n')[0]) : undefined;
  }

  async crash(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    const pid = this.postmasterPid();
    // SIGQUIT: the postmaster and its backends quit at once without a checkpoint, as after a crash
    // (SIGKILL to the postmaster alone would leave its backends holding the shared memory).
    if (pid) {
      try {
        process.kill(pid, 'SIGQUIT');
      } catch {
        // already gone
      }
    }
    if (child) await exited(child);
    for (let i = 0; i < 100 && this.postmasterPid() !== undefined && existsSync(`/proc/${this.postmasterPid()}`); i++) await sleep(100);
  }

  async destroy(): Promise<void> {
    await this.crash();
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A redis-server with AOF (appendfsync always) in its own data directory. */
export class PrivateRedis implements PrivateServer {
  readonly kind = 'redis';
  private dir = '';
  private port = 0;
  private child?: ChildProcess;

  get url(): string {
    return `redis://127.0.0.1:${this.port}/0`;
  }

  async start(): Promise<void> {
    if (!this.dir) {
      this.dir = mkdtempSync(join(tmpdir(), 'durably-chaos-redis-'));
      this.port = await freeServerPort();
    }
    const child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--appendonly', 'yes', '--appendfsync', 'always', '--save', ''], { stdio: 'ignore' });
    this.child = child;
    await waitForPort(this.port, 30_000, () => child.exitCode === null, 'private redis-server');
  }

  async crash(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child) return;
    child.kill('SIGKILL');
    await exited(child);
  }

  async destroy(): Promise<void> {
    await this.crash();
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * A RabbitMQ node with its own node name, AMQP and distribution ports on 127.0.0.1, and its data,
 * logs and Erlang cookie in a temp directory; run in a process group of its own and crashed by that
 * group's id (beam.smp is in it).
 */
export class PrivateRabbit implements PrivateServer {
  readonly kind = 'rabbitmq';
  private readonly name = `durably-chaos-${randomBytes(4).toString('hex')}@localhost`;
  private readonly server: string;
  private dir = '';
  private port = 0;
  private child?: ChildProcess;

  constructor() {
    const server = ['/usr/lib/rabbitmq/bin/rabbitmq-server', '/usr/sbin/rabbitmq-server'].find((p) => existsSync(p));
    if (!server) throw new Error('rabbitmq-server not found: install the rabbitmq-server package to run the RabbitMQ pairs.');
    this.server = server;
  }

  get url(): string {
    return `amqp://guest:guest@127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    if (!this.dir) {
      this.dir = mkdtempSync(join(tmpdir(), 'durably-chaos-rabbit-'));
      this.port = await freeServerPort(2);
      writeFileSync(join(this.dir, 'rabbitmq.conf'), `listeners.tcp.default = 127.0.0.1:${this.port}\n`);
      writeFileSync(join(this.dir, 'enabled_plugins'), '[].\n');
      writeFileSync(join(this.dir, 'rabbitmq-env.conf'), '');
    }
    const env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: this.dir,
      LANG: 'C.UTF-8',
      RABBITMQ_NODENAME: this.name,
      RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
      RABBITMQ_NODE_PORT: String(this.port),
      RABBITMQ_DIST_PORT: String(this.port + 1),
      RABBITMQ_MNESIA_BASE: join(this.dir, 'mnesia'),
      RABBITMQ_LOG_BASE: join(this.dir, 'log'),
      RABBITMQ_LOGS: '-',
      RABBITMQ_CONFIG_FILE: join(this.dir, 'rabbitmq.conf'),
      RABBITMQ_ENABLED_PLUGINS_FILE: join(this.dir, 'enabled_plugins'),
      RABBITMQ_CONF_ENV_FILE: join(this.dir, 'rabbitmq-env.conf'),
      RABBITMQ_PID_FILE: join(this.dir, 'pid'),
      ERL_EPMD_ADDRESS: '127.0.0.1',
      RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: '-kernel inet_dist_use_interface {127,0,0,1}',
    };
    const child = spawn(this.server, [], { env, cwd: this.dir, detached: true, stdio: 'ignore' });
    this.child = child;
    const reap = () => this.killGroup(child);
    process.once('exit', reap);
    child.once('exit', () => process.off('exit', reap));
    await waitForPort(this.port, 120_000, () => child.exitCode === null, `private RabbitMQ node ${this.name}`);
  }

  private killGroup(child: ChildProcess): void {
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }

  async crash(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child) return;
    this.killGroup(child);
    await exited(child);
    await sleep(300); // the kernel releases the ports
  }

  async destroy(): Promise<void> {
    await this.crash();
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }
}
