import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Cluster, Redis } from 'ioredis';

const NODES = 6;

/** True when nothing listens on the port now. */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

/**
 * A private Redis Cluster of six nodes (three masters, a replica each) on free ports of the 7000
 * range, each with its own directory, no persistence; stopped by PID. The shared Redis (6379) is
 * never touched. For tests and benchmarks (`@durably/redis/private-cluster`): needs redis-server and
 * redis-cli on the PATH.
 */
export class PrivateCluster {
  readonly ports: number[] = [];
  private readonly servers: ChildProcess[] = [];
  private dir?: string;

  /** `redis+cluster://127.0.0.1:p1,127.0.0.1:p2,...` */
  get url(): string {
    return `redis+cluster://${this.ports.map((p) => `127.0.0.1:${p}`).join(',')}`;
  }

  /** True when redis-server and redis-cli are on the PATH. */
  static installed(): boolean {
    return ['redis-server', 'redis-cli'].every((bin) => spawnSync(bin, ['--version'], { stdio: 'ignore' }).status === 0);
  }

  /** Six consecutive ports whose cluster bus ports (port + 10000) are free too. */
  private async pickPorts(): Promise<void> {
    for (let attempt = 0; attempt < 200; attempt++) {
      const base = 7000 + Math.floor(Math.random() * 150) * 6;
      let free = true;
      for (let i = 0; i < NODES && free; i++) free = (await portFree(base + i)) && (await portFree(base + i + 10_000));
      if (free) {
        this.ports.splice(0, this.ports.length, ...Array.from({ length: NODES }, (_, i) => base + i));
        return;
      }
    }
    throw new Error('no six free ports (and bus ports) in the 7000 range for a private Redis Cluster');
  }

  /** Starts the nodes, joins them into a cluster and waits until every node says it is ok. */
  async start(): Promise<void> {
    let last: unknown;
    for (let attempt = 0; attempt < 3; attempt++) {
      await this.pickPorts();
      try {
        return await this.startOn();
      } catch (err) {
        last = err;
        await this.stop();
      }
    }
    throw last;
  }

  private async startOn(): Promise<void> {
    this.dir = mkdtempSync(join(tmpdir(), 'durably-redis-cluster-'));
    const outputs: string[] = [];
    for (const [i, port] of this.ports.entries()) {
      const dir = join(this.dir, String(port));
      mkdirSync(dir);
      const args = ['--cluster-enabled', 'yes', '--port', String(port), '--cluster-config-file', join(dir, 'nodes.conf'), '--dir', dir, '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'];
      const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
      outputs[i] = '';
      const keep = (d: Buffer) => (outputs[i] = (outputs[i] + d.toString()).slice(-2000));
      child.stdout!.on('data', keep);
      child.stderr!.on('data', keep);
      this.servers.push(child);
    }
    for (const [i, port] of this.ports.entries()) {
      if (!(await this.answers(port))) throw new Error(`cluster node on port ${port} did not start (exit code ${this.servers[i].exitCode}):\n${outputs[i]}`);
    }
    const create = spawnSync('redis-cli', ['--cluster', 'create', ...this.ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '1', '--cluster-yes'], { encoding: 'utf8', timeout: 60_000 });
    if (create.status !== 0) throw new Error(`redis-cli --cluster create failed (${create.status}):\n${create.stdout}\n${create.stderr}`);
    for (let i = 0; i < 300; i++) {
      if (await this.allOk()) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`the private Redis Cluster on ports ${this.ports.join(',')} did not reach cluster_state:ok`);
  }

  private async answers(port: number): Promise<boolean> {
    const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
    probe.on('error', () => undefined);
    try {
      for (let i = 0; i < 100; i++) {
        try {
          await probe.connect();
          await probe.ping();
          return true;
        } catch {
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      return false;
    } finally {
      probe.disconnect();
    }
  }

  /** Every node sees all 16384 slots served (and the cluster client can write through any of them). */
  private async allOk(): Promise<boolean> {
    for (const port of this.ports) {
      const r = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1, retryStrategy: () => null });
      r.on('error', () => undefined);
      try {
        const info = await r.cluster('INFO');
        if (!/cluster_state:ok/.test(info) || !/cluster_slots_ok:16384/.test(info)) return false;
      } catch {
        return false;
      } finally {
        r.disconnect();
      }
    }
    return true;
  }

  /** A Cluster client of the nodes (for cleanup and inspection), ready: it knows every master. */
  async client(): Promise<Cluster> {
    const c = new Cluster(this.ports.map((port) => ({ host: '127.0.0.1', port })));
    await new Promise<void>((resolve, reject) => {
      c.once('ready', () => resolve());
      c.once('error', reject);
    });
    return c;
  }

  /** Deletes every key whose tag belongs to a prefix (`{prefix}`, `{prefix~b}`, `{prefix/queue}`), node by node. */
  async dropPrefix(prefix: string): Promise<void> {
    const c = await this.client();
    try {
      for (const node of c.nodes('master')) {
        let cursor = '0';
        do {
          const [next, keys] = await node.scan(cursor, 'MATCH', `{${prefix}[}~/]*`, 'COUNT', 1000);
          cursor = next;
          await Promise.all(keys.map((k) => c.unlink(k)));
        } while (cursor !== '0');
      }
    } finally {
      c.disconnect();
    }
  }

  /** SIGKILLs every node by its PID and removes the directory. */
  async stop(): Promise<void> {
    await Promise.all(
      this.servers.map(
        (server) =>
          new Promise<void>((resolve) => {
            if (server.exitCode !== null || server.signalCode !== null) return resolve();
            server.once('exit', () => resolve());
            server.kill('SIGKILL');
          }),
      ),
    );
    this.servers.length = 0;
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    this.dir = undefined;
  }
}
