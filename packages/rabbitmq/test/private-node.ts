import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqp from 'amqplib';
import { freeServerPort } from '@durably/testing/ports';

/** The server script itself: Debian's /usr/sbin wrapper would switch to the rabbitmq user. */
const SERVER = ['/usr/lib/rabbitmq/bin/rabbitmq-server', '/usr/sbin/rabbitmq-server'].find((p) => existsSync(p));

export const canStartNode = SERVER !== undefined;

export interface NodeSettings {
  /** consumer_timeout of the node, ms. Default 30 min (RabbitMQ's). */
  consumerTimeoutMs?: number;
  /** How often the node checks the consumer timeout (channel_tick_interval), ms. Default 60 s (RabbitMQ's). */
  channelTickMs?: number;
}

/**
 * A RabbitMQ node of the test's own: its own node name, AMQP and distribution ports on 127.0.0.1,
 * data, log and cookie (HOME) in a temp dir. Started as a child process in a process group of its
 * own, and killed (SIGKILL, as a crash) by that group's id; the shared node is never touched.
 */
export class PrivateNode {
  readonly name = `durably-test-${randomBytes(4).toString('hex')}@localhost`;
  readonly dir = mkdtempSync(join(tmpdir(), 'durably-rabbit-'));
  port = 0;
  private child?: ChildProcess;
  private output = '';

  constructor(private readonly settings: NodeSettings = {}) {}

  get url(): string {
    return `amqp://guest:guest@127.0.0.1:${this.port}`;
  }

  /** Starts the node on free ports (first call) or on the same ones and data (after a crash). */
  async start(): Promise<void> {
    const fresh = this.port === 0;
    for (let tries = 1; ; tries++) {
      try {
        return await this.startOnce();
      } catch (err) {
        // Another process took the free port between the check and the node's bind: take other ports.
        if (!fresh || tries >= 3 || !/eaddrinuse/.test(this.output)) throw err;
        this.port = 0;
        this.output = '';
      }
    }
  }

  private async startOnce(): Promise<void> {
    // Two consecutive ports (AMQP, then Erlang distribution), below the ephemeral range.
    if (this.port === 0) this.port = await freeServerPort(2);
    writeFileSync(
      join(this.dir, 'rabbitmq.conf'),
      [`listeners.tcp.default = 127.0.0.1:${this.port}`, `consumer_timeout = ${this.settings.consumerTimeoutMs ?? 1_800_000}`, ''].join('\n'),
    );
    writeFileSync(join(this.dir, 'advanced.config'), `[{rabbit, [{channel_tick_interval, ${this.settings.channelTickMs ?? 60_000}}]}].\n`);
    writeFileSync(join(this.dir, 'enabled_plugins'), '[].\n');
    writeFileSync(join(this.dir, 'rabbitmq-env.conf'), '');
    const env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: this.dir, // the Erlang cookie
      LANG: 'C.UTF-8',
      RABBITMQ_NODENAME: this.name,
      RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
      RABBITMQ_NODE_PORT: String(this.port),
      RABBITMQ_DIST_PORT: String(this.port + 1),
      RABBITMQ_MNESIA_BASE: join(this.dir, 'mnesia'),
      RABBITMQ_LOG_BASE: join(this.dir, 'log'),
      RABBITMQ_LOGS: '-',
      RABBITMQ_CONFIG_FILE: join(this.dir, 'rabbitmq.conf'),
      RABBITMQ_ADVANCED_CONFIG_FILE: join(this.dir, 'advanced.config'),
      RABBITMQ_ENABLED_PLUGINS_FILE: join(this.dir, 'enabled_plugins'),
      RABBITMQ_CONF_ENV_FILE: join(this.dir, 'rabbitmq-env.conf'),
      RABBITMQ_PID_FILE: join(this.dir, 'pid'),
      ERL_EPMD_ADDRESS: '127.0.0.1',
      RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: '-kernel inet_dist_use_interface {127,0,0,1}',
    };
    const child = spawn(SERVER!, [], { env, cwd: this.dir, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    // A test run that ends without its afterAll (a timeout, Ctrl-C) must not leave the node running.
    const reap = () => {
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    };
    process.once('exit', reap);
    child.once('exit', () => process.off('exit', reap));
    const keep = (d: Buffer) => {
      this.output = (this.output + d.toString()).slice(-6000);
      appendFileSync(join(this.dir, 'node.log'), d);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    const deadline = Date.now() + 90_000;
    while (Date.now() < deadline && child.exitCode === null) {
      try {
        const c = await amqp.connect(this.url, { timeout: 1000 });
        await c.close();
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    const tail = this.output.split('\n').slice(-15).join('\n');
    await this.crash();
    throw new Error(`private RabbitMQ node ${this.name} on port ${this.port} did not start (exit code ${child.exitCode}):\n${tail}`);
  }

  /** Kills the node's process group with SIGKILL (a crash) and waits for it to be gone. */
  async crash(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
    await exited;
    // beam.smp is in the group too; give the kernel a moment to release the ports.
    await new Promise((r) => setTimeout(r, 200));
  }

  /** Stops the node cleanly (SIGTERM: the server flushes everything) and starts it again. */
  async restartCleanly(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child && child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      process.kill(-child.pid, 'SIGTERM');
      const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 60_000);
      await exited;
      clearTimeout(timer);
    }
    await this.start();
  }

  async destroy(): Promise<void> {
    await this.crash();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

