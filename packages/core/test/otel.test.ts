import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { context, trace, type Tracer } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { Client, MemoryBroker, MemoryStorage, Worker, createLogger } from '../src/index.js';
import { tracedFlow } from './fixtures/otel-workflows.js';

/**
 * OpenTelemetry: each run execution and each step attempt is a span; the caller's trace context is
 * stored with the run and carried by dispatched steps, so the run's spans join the caller's trace,
 * in this process and in a worker process of its own.
 */
const exporter = new InMemorySpanExporter();
let tracer: Tracer;
beforeAll(() => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
  tracer = trace.getTracer('test');
});
beforeEach(() => exporter.reset());

const byName = (spans: ReadableSpan[], name: string) => spans.filter((s) => s.name === name);

async function startTraced(client: Client, x: number): Promise<{ traceId: string; callerId: string; runId: string }> {
  return tracer.startActiveSpan('caller', async (span) => {
    const handle = await client.start(tracedFlow, x);
    span.end();
    return { traceId: span.spanContext().traceId, callerId: span.spanContext().spanId, runId: handle.runId };
  });
}

describe('OpenTelemetry spans', () => {
  for (const stepMode of ['inline', 'dispatch'] as const) {
    it(`a run and its step attempts are spans in the caller's trace (${stepMode} steps)`, async () => {
      const client = new Client({ storage: new MemoryStorage(), broker: new MemoryBroker() });
      const worker = new Worker(client, { workflows: [tracedFlow], stepMode, logger: createLogger('silent') });
      await worker.start();
      const { traceId, callerId, runId } = await startTraced(client, 20);
      expect(await client.getRun<number>(runId).result({ timeout: '10s' })).toBe(42);
      await worker.stop();
      const spans = exporter.getFinishedSpans();
      expect(spans.every((s) => s.spanContext().traceId === traceId)).toBe(true);

      const [start] = byName(spans, 'durably.start otel.flow');
      expect(start.parentSpanContext?.spanId).toBe(callerId);
      expect(start.attributes).toMatchObject({ 'durably.run.id': runId, 'durably.workflow': 'otel.flow', 'durably.queue': 'default' });
      // The run's log carries the start span's context.
      const [created] = await client.getRun(runId).events(1);
      expect(created.type === 'run_created' && created.data.traceparent).toBe(`00-${traceId}-${start.spanContext().spanId}-01`);

      const runs = byName(spans, 'durably.run otel.flow');
      expect(runs.length).toBeGreaterThanOrEqual(1);
      for (const r of runs) expect(r.parentSpanContext?.spanId).toBe(start.spanContext().spanId);
      expect(runs.at(-1)!.attributes).toMatchObject({ 'durably.run.id': runId, 'durably.workflow': 'otel.flow', 'durably.run.outcome': 'completed' });
      expect(runs[0].attributes['durably.run.first_start']).toBe(true);

      const steps = byName(spans, 'durably.step otel.traced').sort((a, b) => Number(a.attributes['durably.step.attempt']) - Number(b.attributes['durably.step.attempt']));
      expect(steps.map((s) => [s.attributes['durably.step.attempt'], s.attributes['durably.step.outcome'], s.attributes['durably.step.inline']])).toEqual([
        [1, 'retry', stepMode === 'inline'],
        [2, 'completed', stepMode === 'inline'],
      ]);
      expect(steps[0].status.code).toBe(2); // ERROR
      expect(steps[0].events.some((e) => e.name === 'exception')).toBe(true);
      const runIds = new Set(runs.map((r) => r.spanContext().spanId));
      for (const s of steps) expect(runIds.has(s.parentSpanContext!.spanId)).toBe(true);
      // A span the step body opens is a child of its attempt's span.
      const [inside] = byName(spans, 'inside the step');
      expect(inside.parentSpanContext?.spanId).toBe(steps[1].spanContext().spanId);
    });
  }

  describe('across processes', () => {
    const here = dirname(fileURLToPath(import.meta.url));
    let dir: string;
    beforeAll(() => void (dir = mkdtempSync(join(tmpdir(), 'durably-otel-'))));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    for (const stepMode of ['inline', 'dispatch'] as const) {
      it(`the spans of a worker process join the trace of the caller of start() (${stepMode})`, async () => {
        const data = join(dir, stepMode);
        const spansFile = join(dir, `${stepMode}-spans.json`);
        const env = { ...process.env, DURABLY_STORAGE: `file:${data}`, DURABLY_BROKER: 'local:', SPANS_FILE: spansFile, STEP_MODE: stepMode, DURABLY_LOG_LEVEL: 'silent' };
        const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=@durably/source', join(here, 'fixtures/otel-worker.ts')], { env, stdio: ['ignore', 'pipe', 'inherit'] });
        await new Promise<void>((resolve, reject) => {
          child.stdout!.on('data', (d) => String(d).includes('ready') && resolve());
          child.once('exit', (code) => reject(new Error(`the worker exited with ${code}`)));
        });
        const { LocalStorage, LocalBroker } = await import('../src/index.js');
        const client = new Client({ storage: new LocalStorage({ path: data }), broker: new LocalBroker({ path: data }) });
        try {
          const { traceId, runId } = await startTraced(client, 1);
          expect(await client.getRun(runId).result({ timeout: '20s' })).toBe(4);
          const start = byName(exporter.getFinishedSpans(), 'durably.start otel.flow')[0];
          const exited = new Promise((r) => child.once('exit', r));
          child.kill('SIGTERM');
          await exited;
          const remote = JSON.parse(readFileSync(spansFile, 'utf8')) as Array<{ name: string; traceId: string; spanId: string; parentSpanId?: string; attributes: Record<string, unknown> }>;
          const runs = remote.filter((s) => s.name === 'durably.run otel.flow');
          const steps = remote.filter((s) => s.name === 'durably.step otel.traced');
          expect(runs.length).toBeGreaterThanOrEqual(1);
          expect(steps).toHaveLength(2);
          for (const s of [...runs, ...steps]) expect(s.traceId).toBe(traceId);
          for (const r of runs) expect(r.parentSpanId).toBe(start.spanContext().spanId);
          for (const s of steps) expect(runs.map((r) => r.spanId)).toContain(s.parentSpanId);
          expect(runs.some((r) => r.attributes['durably.run.outcome'] === 'completed')).toBe(true);
        } finally {
          await client.close();
          child.kill('SIGKILL');
        }
      }, 60_000);
    }
  });
});
