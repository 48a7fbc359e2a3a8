import { spawnSync } from 'node:child_process';
import { Writable } from 'node:stream';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { Client, MemoryBroker, MemoryStorage, Worker, context, fromPino, step, toLogger, workflow } from '../src/index.js';

const here = dirname(fileURLToPath(import.meta.url));

function capture(): { stream: Writable; lines: () => Array<Record<string, unknown>> } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  return { stream, lines: () => chunks.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l)) };
}

const logStep = step('obs.log-step', async (n: number) => {
  const ctx = context();
  ctx.logger.info('inside the step', { n });
  return n;
});
const logFlow = workflow('obs.log-flow', async (n: number) => {
  context().logger.info('inside the workflow', { n, nested: { deep: true } });
  return logStep(n);
});

describe('logging', () => {
  it('a pino instance given as the logger keeps every field (pino takes (fields, msg))', async () => {
    const { stream, lines } = capture();
    const logger = pino({ level: 'debug' }, stream);
    const client = new Client({ storage: new MemoryStorage(), broker: new MemoryBroker() });
    const worker = new Worker(client, { workflows: [logFlow], logger });
    await worker.start();
    const run = await client.start(logFlow, 7);
    expect(await run.result({ timeout: '5s' })).toBe(7);
    await worker.stop();
    const all = lines();
    expect(all.find((l) => l.msg === 'inside the workflow')).toMatchObject({ runId: run.runId, workflow: 'obs.log-flow', n: 7, nested: { deep: true }, workerId: worker.workerId });
    expect(all.find((l) => l.msg === 'inside the step')).toMatchObject({ runId: run.runId, workflow: 'obs.log-flow', step: 'obs.log-step', stepId: '1', attempt: 1, n: 7 });
    expect(all.find((l) => l.msg === 'run started')).toMatchObject({ runId: run.runId, workflow: 'obs.log-flow', queue: 'default' });
    expect(all.find((l) => l.msg === 'run completed')).toMatchObject({ runId: run.runId, workflow: 'obs.log-flow' });
    expect(all.find((l) => l.msg === 'step completed')).toMatchObject({ step: 'obs.log-step', attempt: 1 });
  });

  it('toLogger adapts pino and leaves a Logger alone', () => {
    const { stream, lines } = capture();
    const adapted = toLogger(pino(stream));
    adapted.child({ a: 1 }).info('hello', { b: 2 });
    expect(lines()[0]).toMatchObject({ a: 1, b: 2, msg: 'hello' });
    const plain = fromPino(pino(stream));
    expect(toLogger(plain)).toBe(plain);
  });
});

describe('without @opentelemetry/api', () => {
  it('runs workflows as usual when the API is not installed', () => {
    const r = spawnSync(process.execPath, ['--import', join(here, '../../../tools/scripts/hide-packages.mjs'), '--import', 'tsx', '--conditions=@durably/source', join(here, 'fixtures/no-otel-worker.ts')], {
      env: { ...process.env, DURABLY_TEST_HIDE: '@opentelemetry/api' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.stdout).toContain('result 42');
    expect(r.status).toBe(0);
    // The hook really hides the package: importing it fails in that process.
    const probe = spawnSync(process.execPath, ['--import', join(here, '../../../tools/scripts/hide-packages.mjs'), '-e', "require('@opentelemetry/api')"], { env: { ...process.env, DURABLY_TEST_HIDE: '@opentelemetry/api' }, encoding: 'utf8' });
    expect(probe.status).not.toBe(0);
    expect(probe.stderr).toContain('hidden by the test');
  });
});
