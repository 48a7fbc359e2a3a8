import { expect, it } from 'vitest';
import { InvalidArgumentError, isReplaying, NonDeterminismError, SerializationError, WorkflowFailedError, type DurablyEvent } from '@durably/core';
import type { SuiteContext } from './context.js';
import { types } from './helpers.js';
import * as W from './workflows.js';
import { waitFor } from '../wait.js';

/**
 * Engine suite, the basics: the quick example, values through the log, plain and parallel steps,
 * raced steps, recorded context values, code changed under a run, listing runs and tags.
 */
export function basicsTests(suite: SuiteContext): void {
  const { client, setup } = suite;

  it('runs the quick example: steps, a durable sleep, a result, and a contiguous log', async () => {
    const { c } = await setup();
    const run = await c.start(W.onboarding, 'user_123', 50);
    expect(typeof run.runId).toBe('string');
    const result = await run.result({ timeout: '20s' });
    expect(result).toEqual({ welcome: 'Welcome email sent to user_123', tips: 'Tips email sent to user_123', done: 'Onboarding complete' });
    expect(await run.status()).toBe('completed');
    const events = await run.events();
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(types(events)).toEqual(
      expect.arrayContaining(['run_created', 'run_started', 'step_completed', 'sleep_started', 'sleep_completed', 'run_completed']),
    );
    expect(types(events).filter((t) => t === 'step_completed')).toHaveLength(2);
    expect(events[0].type).toBe('run_created');
    expect(events.at(-1)!.type).toBe('run_completed');
    const started = events.find((e) => e.type === 'sleep_started')!;
    const done = events.find((e) => e.type === 'sleep_completed')!;
    expect(done.at - started.at).toBeGreaterThanOrEqual(45);
    expect(W.countOf(`${run.runId}:welcome`)).toBe(1);
    expect(W.countOf(`${run.runId}:tips`)).toBe(1);
  });

  it('keeps Date, Map, Set, BigInt, Uint8Array, Error and nested values through arguments and results', async () => {
    const { c } = await setup();
    const value = {
      when: new Date('2024-02-03T04:05:06.007Z'),
      map: new Map<string, unknown>([['a', 1], ['b', { deep: [1, 2, 3] }]]),
      set: new Set(['x', 'y']),
      big: 12345678901234567890n,
      bytes: new Uint8Array([1, 2, 255]),
      error: new TypeError('bad type'),
      nested: { list: [null, undefined, -0, 'text'] },
    };
    const result = (await (await c.start(W.roundTrip, value)).result({ timeout: '20s' })) as { fromStep: typeof value; original: typeof value };
    for (const v of [result.fromStep, result.original]) {
      expect(v.when).toBeInstanceOf(Date);
      expect(v.when.toISOString()).toBe('2024-02-03T04:05:06.007Z');
      expect(v.map.get('b')).toEqual({ deep: [1, 2, 3] });
      expect([...v.set]).toEqual(['x', 'y']);
      expect(v.big).toBe(12345678901234567890n);
      expect([...v.bytes]).toEqual([1, 2, 255]);
      expect(v.error).toBeInstanceOf(Error);
      expect(v.error.message).toBe('bad type');
      expect(v.error.name).toBe('TypeError');
      expect(v.nested.list).toEqual([null, undefined, -0, 'text']);
    }
  });

  it('rejects arguments that cannot be serialized, at start, with a clear error', async () => {
    const c = await client();
    await expect(c.start(W.roundTrip, { fn: () => 1 })).rejects.toBeInstanceOf(SerializationError);
    await expect(c.start(W.sendWelcomeEmail as never)).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it('runs a step called outside a workflow as a plain function, unrecorded', async () => {
    expect(await W.echo('plain')).toBe('plain');
    expect(await W.plainCalls(41)).toBe(42);
  });

  it('runs parallel steps with Promise.all, each recorded once, results in call order', async () => {
    const { c } = await setup();
    const run = await c.start(W.parallel, 8);
    expect(await run.result({ timeout: '20s' })).toEqual([0, 1, 4, 9, 16, 25, 36, 49]);
    const completed = (await run.events()).filter((e) => e.type === 'step_completed');
    expect(completed).toHaveLength(8);
    expect(new Set(completed.map((e) => e.correlationId)).size).toBe(8);
    for (let i = 0; i < 8; i++) expect(W.countOf(`${run.runId}:square:${i}`)).toBe(1);
  });

  it('replays Promise.race deterministically: the recorded winner wins again after a replay', async () => {
    const { c } = await setup();
    const run = await c.start(W.race);
    const result = await run.result({ timeout: '20s' });
    expect(result).toEqual({ winner: 'fast:9', after: 16 });
    const events = await run.events();
    expect(types(events)).toContain('sleep_completed');
    expect(events.filter((e) => e.type === 'step_completed')).toHaveLength(3);
  });

  it('gives workflows recorded context values that replay unchanged, and steps their step context', async () => {
    const { c } = await setup();
    const run = await c.start(W.contextWf);
    const result = (await run.result({ timeout: '20s' })) as {
      before: { runId: string; now: number; random: number; uuid: string };
      after: { runId: string };
      inStep: Record<string, unknown>;
    };
    expect(result.before.runId).toBe(run.runId);
    expect(result.after.runId).toBe(run.runId);
    const recorded = (await run.events()).filter((e) => e.type === 'value_recorded') as Extract<DurablyEvent, { type: 'value_recorded' }>[];
    expect(recorded.map((e) => e.data.kind)).toEqual(['now', 'random', 'uuid']);
    // The run replayed after its sleep; the values it returned are the recorded ones.
    expect(result.before.uuid).toMatch(/^[0-9a-f-]{36}$/);
    expect(recorded[2].data.value).toContain(result.before.uuid);
    expect(result.inStep).toEqual({
      kind: 'step',
      runId: run.runId,
      stepId: expect.any(String),
      stepName: 'suite.inspect',
      attempt: 1,
      idempotencyKey: `${run.runId}:${result.inStep.stepId}`,
      hasLogger: true,
      hasSignal: true,
    });
  });

  it('fails a run with NonDeterminismError when the code no longer matches its log', async () => {
    const { c, w } = await setup();
    W.codeVersion.current = 1;
    const run = await c.start(W.changingWf);
    // Wait until the run is suspended on its sleep, then "deploy" changed code: a new worker runs it
    // (this one stops and hands its held wake-up over; it kept the sleeping run's execution in memory).
    await waitFor(async () => (await run.events()).some((e) => e.type === 'sleep_started'), 10_000);
    W.codeVersion.current = 2;
    await w.stop();
    await suite.worker(c);
    try {
      const error = await run.result({ timeout: '20s' }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(WorkflowFailedError);
      const cause = (error as Error).cause as Error;
      expect(cause.name).toBe('NonDeterminismError');
      expect(cause.message).toContain('suite.step-a');
      expect(cause.message).toContain('suite.step-b');
      expect((await run.record()).error?.code).toBe('NON_DETERMINISM');
      expect(new NonDeterminismError('3', 'a', 'b').position).toBe('3');
    } finally {
      W.codeVersion.current = 1;
    }
  });

  it('fails a run whose sleep duration is invalid, naming the bad value', async () => {
    const { c } = await setup();
    const run = await c.start(W.badSleep);
    const error = await run.result({ timeout: '20s' }).catch((e: unknown) => e);
    expect((error as Error).message).toContain('"soon"');
    expect(((error as Error).cause as Error).name).toBe('InvalidDurationError');
  });

  it('lists runs by workflow and status with cursor paging, and reads a run by id', async () => {
    const { c } = await setup();
    const handles = await Promise.all(Array.from({ length: 7 }, (_, i) => c.start(W.plainCalls, i)));
    await Promise.all(handles.map((h) => h.result({ timeout: '20s' })));
    const seen = new Set<string>();
    let cursor: string | undefined;
    do {
      const page = await c.listRuns({ workflow: 'suite.plain', status: 'completed', limit: 3, cursor });
      for (const r of page.runs) {
        expect(r.workflow).toBe('suite.plain');
        expect(r.status).toBe('completed');
        seen.add(r.runId);
      }
      cursor = page.nextCursor;
    } while (cursor);
    for (const h of handles) expect(seen.has(h.runId)).toBe(true);
    expect(await c.getRun(handles[0].runId).status()).toBe('completed');
  });

  it('stores workflow and start tags and filters runs by them', async () => {
    const { c } = await setup();
    const tag = `batch:${crypto.randomUUID().slice(0, 8)}`;
    const run = await c.startWith(W.plainCalls, [1], { tags: [tag, 'manual'] });
    await run.result({ timeout: '20s' });
    await c.start(W.plainCalls, 2);
    const page = await c.listRuns({ tags: [tag] });
    expect(page.runs.map((r) => r.runId)).toEqual([run.runId]);
    expect(page.runs[0].tags).toEqual([tag, 'manual']);
    await expect(c.startWith(W.plainCalls, [1], { tags: ['has space'] })).rejects.toThrow(/tags/);
  });

  it('isReplaying() is true where the code re-runs the log (a query) and false where it runs first, so guarded side effects outside steps happen once', async () => {
    const { c } = await setup();
    const run = await c.start(W.replayAware);
    await waitFor(async () => (await run.status()) === 'suspended', 10_000);
    expect(W.countOf(`${run.runId}:outside-before`)).toBe(1);
    expect(await c.query(W.replayAware, run.runId, W.replayProbe)).toBe(true);
    expect(W.countOf(`${run.runId}:outside-before`)).toBe(1);
    await c.sendSignal(run.runId, 'go', null);
    expect(await run.result({ timeout: '20s' })).toEqual({ inStep: false });
    expect(W.countOf(`${run.runId}:outside-before`)).toBe(1);
    expect(W.countOf(`${run.runId}:outside-after`)).toBe(1);
    expect(isReplaying()).toBe(false);
  });
}
