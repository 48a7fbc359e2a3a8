/**
 * Restate (restate.dev): its server from the npm package @restatedev/restate-server (the binary is an
 * optional dependency for the platform; nothing is downloaded at run time), started by the bench with
 * every port bound to 127.0.0.1 and picked at random, its data in a temporary folder; the handlers are
 * served by the TypeScript SDK from this process on 127.0.0.1, registered with the admin API, and
 * invoked through the ingress, as a user's client would.
 *
 * Durability: the server's defaults, which sync its log to disk before it acknowledges (bifrost and
 * log-server `rocksdb-disable-wal-fsync = false`): the same promise as Durably's local backend
 * (SQLite synchronous=FULL) and Postgres (fsync on, synchronous_commit on).
 */
import http2 from 'node:http2';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as Restate from '@restatedev/restate-sdk';
import type { Row } from '../../src/shapes.js';
import { b1Rows, b2Rows, closedLoop } from './common.js';

const require = createRequire(import.meta.url);
// The SDK logs every invocation at INFO, read from RESTATE_LOGGING when it loads: keep the bench's output to warnings.
process.env.RESTATE_LOGGING ??= 'WARN';
const restate: typeof Restate = await import('@restatedev/restate-sdk');

const bench = restate.service({
  name: 'bench',
  handlers: {
    threeSteps: async (ctx: Restate.Context, payload: string) => {
      await ctx.run('noop', () => payload);
      await ctx.run('noop', () => payload);
      return ctx.run('noop', () => payload);
    },
    longChain: async (ctx: Restate.Context, steps: number) => {
      const stamps: number[] = [];
      for (let i = 0; i < steps; i++) stamps.push(await ctx.run('stamp', () => performance.timeOrigin + performance.now()));
      return stamps;
    },
  },
});

interface Running {
  ingress: string;
  call<T>(handler: string, arg: unknown): Promise<T>;
}

/** Starts a Restate server and the bench's service endpoint, registers it, runs `fn`, stops both. */
async function withRestate<T>(fn: (r: Running) => Promise<T>): Promise<T> {
  const binary = require.resolve(`@restatedev/restate-server-${process.platform}-${process.arch}/bin/restate-server`);
  const dataDir = mkdtempSync(join(tmpdir(), 'durably-bench-restate-'));
  const endpoint = http2.createServer(restate.createEndpointHandler({ services: [bench] }));
  await new Promise<void>((resolve) => endpoint.listen(0, '127.0.0.1', resolve));
  const servicePort = (endpoint.address() as { port: number }).port;
  let server: ChildProcess | undefined;
  try {
    server = spawn(binary, ['--no-logo', '--bind-ip', '127.0.0.1', '--use-random-ports', 'true', '--listen-mode', 'tcp', '--base-dir', dataDir, '--log-format', 'json'], {
      env: { ...process.env, RESTATE_DISABLE_TELEMETRY: 'true' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const { ingress, admin } = await addresses(server);
    for (let i = 0; ; i++) {
      const ok = await fetch(`${admin}/health`).then((r) => r.ok, () => false);
      if (ok) break;
      if (i > 150) throw new Error(`Restate's admin API at ${admin} did not answer its health check within 30 s`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const registered = await fetch(`${admin}/deployments`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ uri: `http://127.0.0.1:${servicePort}` }) });
    if (!registered.ok) throw new Error(`Restate refused the bench's deployment (${registered.status}): ${await registered.text()}`);
    const call = async <R>(handler: string, arg: unknown): Promise<R> => {
      const r = await fetch(`${ingress}/bench/${handler}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(arg) });
      if (!r.ok) throw new Error(`Restate ingress answered ${r.status} to bench/${handler}: ${await r.text()}`);
      return (await r.json()) as R;
    };
    // The first invocations after start wait for the partitions' leaders: warm up outside the measure.
    await call('threeSteps', 'x');
    return await fn({ ingress, call });
  } finally {
    if (server && server.exitCode === null) {
      server.kill('SIGTERM');
      await new Promise((r) => server!.once('exit', r));
    }
    endpoint.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Reads the ingress and admin addresses from the server's JSON log (its ports are random). */
function addresses(server: ChildProcess): Promise<{ ingress: string; admin: string }> {
  return new Promise((resolve, reject) => {
    let ingress: string | undefined;
    let admin: string | undefined;
    let tail = '';
    const timer = setTimeout(() => reject(new Error(`Restate did not report its ports within 60 s:\n${tail.slice(-2000)}`)), 60_000);
    const onData = (chunk: Buffer) => {
      tail = (tail + chunk.toString()).slice(-20_000);
      for (const line of chunk.toString().split('\n')) {
        if (!ingress && line.includes('http-ingress-server')) {
          const port = /"server\.port":\s*(\d+)/.exec(line)?.[1];
          if (port) ingress = `http://127.0.0.1:${port}`;
        }
        if (!admin) admin = /Admin API starting on: (http:\/\/[0-9.]+:\d+)/.exec(line)?.[1];
      }
      if (ingress && admin) {
        clearTimeout(timer);
        resolve({ ingress, admin });
      }
    };
    server.stdout!.on('data', onData);
    server.stderr!.on('data', onData);
    server.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`Restate exited with ${code} before it was ready:\n${tail.slice(-2000)}`));
    });
  });
}

/** B1 (`count` three-step invocations at `concurrency`) and B2 (one handler of `steps` sequential runs). */
export async function restateShapes(shapes: Set<string>, count: number, concurrency: number, steps: number): Promise<Row[]> {
  return withRestate(async ({ call }) => {
    const rows: Row[] = [];
    if (shapes.has('B1')) {
      const payload = 'x'.repeat(100);
      const latencies: number[] = [];
      const runOne = async () => {
        const t0 = performance.now();
        await call('threeSteps', payload);
        latencies.push(performance.now() - t0);
      };
      const seconds = await closedLoop(count, concurrency, runOne, latencies);
      rows.push(...b1Rows('restate', 'restate-server', count, seconds, latencies));
    }
    if (shapes.has('B2')) {
      const t0 = performance.now();
      const stamps = await call<number[]>('longChain', steps);
      const total = performance.now() - t0;
      rows.push(...b2Rows('restate', 'restate-server', 'inline', total, steps, stamps.slice(1).map((t, i) => t - stamps[i])));
    }
    return rows;
  });
}
