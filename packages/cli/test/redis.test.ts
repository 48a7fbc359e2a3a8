import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { durably, json, makeApp, WorkerProcess } from './harness.js';
import { dropRedisPrefix, REDIS_URL, redisAvailable, uniqueName } from './servers.js';

/** The durably binary on Redis storage and the Redis Streams broker (one key prefix for this file). */
const available = await redisAvailable();
const prefix = uniqueName('durably-cli-');
const url = `${REDIS_URL}?prefix=${prefix}`;
const app = makeApp({ storage: url, broker: url, workflows: ['./workflows.ts'], worker: { shutdownGrace: '1s', http: { port: 0 } } });
const cwd = app.dir;
const run = (...args: string[]) => durably(args, { cwd });
let worker: WorkerProcess | undefined;

beforeAll(async () => {
  if (!available) return;
  worker = new WorkerProcess([], { cwd });
  await worker.waitFor((l) => l.msg === 'worker running', 'the worker');
}, 60_000);

afterAll(async () => {
  await worker?.stop('SIGTERM').catch(() => undefined);
  app.cleanup();
  if (available) await dropRedisPrefix(prefix);
});

describe.skipIf(!available)('durably on Redis', () => {
  it('runs a workflow, lists it, shows its timeline and cancels another', async () => {
    const r = await run('start', 'fixture.hello', '--args', '["redis"]', '--wait', '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(json(r).result).toBe('hello redis');
    expect(json(await run('runs', 'list', '--status', 'completed', '--json')).runs).toHaveLength(1);
    expect(json(await run('runs', 'show', json(r).runId, '--json')).timeline.map((t: { outcome: string }) => t.outcome)).toEqual(['completed', 'retry', 'completed', 'completed']);
    const { runId } = json(await run('start', 'fixture.napping', '--json'));
    expect((await run('runs', 'cancel', runId)).code).toBe(0);
  });

  it('doctor and metrics work on Redis', async () => {
    const r = await run('doctor', '--json');
    expect(r.code, r.stdout).toBe(0);
    expect(json(r).checks.find((c: { name: string }) => c.name === 'broker connection').detail).toContain(`prefix=${prefix}`);
    const ops = String(worker!.lines().find((l) => l.msg === 'operations endpoint listening')!.url);
    expect(await (await fetch(`${ops}/metrics`)).text()).toMatch(/^durably_runs_completed_total\{workflow="fixture.hello"\} 1$/m);
  });

  it('on SIGTERM a Redis worker exits', async () => {
    expect(await worker!.stop('SIGTERM')).toBe(0);
  });
});
