import { afterEach, describe, expect, it } from 'vitest';
import {
  CancelledError,
  emit,
  inspectStream,
  scheduleSignal,
  startStream,
  STREAM_WORKFLOW,
  StreamRunNotFoundError,
  type StreamOutcome,
  Client,
  HookAlreadyUsedError,
  HookExpiredError,
  HookNotFoundError,
  HookPayloadInvalidError,
  InvalidArgumentError,
  NonDeterminismError,
  PayloadTooLargeError,
  ScheduleNotFoundError,
  RunAlreadyFinishedError,
  SerializationError,
  StepFailedError,
  Worker,
  WorkflowFailedError,
  type Broker,
  type DurablyEvent,
  type PublishOptions,
  type Storage,
  type Limits,
  type WorkerOptions,
} from '@durably/core';
import * as W from './engine-workflows.js';
import { startTests } from './engine-start.js';
import { waitFor } from './wait.js';

export { waitFor };
import { leaseTests } from './engine-leases.js';
import { unknownWorkflowTests } from './engine-unknown-workflow.js';
import type { SuiteContext } from './engine-context.js';

export interface EngineHarness {
  /** A new storage and broker client on the same backends (like another process). */
  connect(): Promise<{ storage: Storage; broker: Broker }>;
  cleanup?(): Promise<void>;
}

/** Worker settings that make sweeps and recovery fast enough for tests. */
const FAST: Partial<WorkerOptions> = {
  timerSweepInterval: '100ms',
  recoveryInterval: '200ms',
  staleAfter: '1500ms',
  visibilityTimeout: '3s',
  concurrency: 20,
};

/**
 * The engine behaviour suite: every capability end to end, through a real worker consuming the
 * broker and a client on the same backends. Each adapter pair runs it with one call.
 */
export function engineSuite(name: string, createHarness: () => Promise<EngineHarness>): void {
  describe(`engine conformance: ${name}`, () => {
    const opened: Array<{ close(): Promise<void> }> = [];
    const workers: Worker[] = [];
    let harness: EngineHarness | undefined;

    async function client(wrap?: (b: Broker) => Broker, limits?: Partial<Limits>, wrapStorage?: (s: Storage) => Storage): Promise<Client> {
      harness ??= await createHarness();
      const { storage, broker } = await harness.connect();
      const c = new Client({ storage: wrapStorage ? wrapStorage(storage) : storage, broker: wrap ? wrap(broker) : broker, limits });
      opened.push(c);
      await c.ensureReady();
      return c;
    }

    async function worker(c: Client, options: Partial<WorkerOptions> = {}): Promise<Worker> {
      const w = new Worker(c, { workflows: W.allWorkflows, ...FAST, ...options });
      workers.push(w);
      await w.start();
      return w;
    }

    async function setup(options: Partial<WorkerOptions> = {}) {
      const c = await client();
      const w = await worker(c, options);
      return { c, w };
    }

    afterEach(async () => {
      await Promise.all(workers.splice(0).map((w) => w.stop()));
      await Promise.all(opened.splice(0).map((c) => c.close()));
      if (harness?.cleanup) await harness.cleanup();
      harness = undefined;
    });

    function types(events: DurablyEvent[]): string[] {
      return events.map((e) => e.type);
    }

    // Behaviour by topic, in files of their own.
    const suite: SuiteContext = { client, worker, setup, fast: FAST };
    leaseTests(suite);
    unknownWorkflowTests(suite);

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

    it('retries a failing step with backoff and records each attempt with its error', async () => {
      const { c } = await setup();
      const run = await c.start(W.retrying, 2, 'retryable');
      expect(await run.result({ timeout: '20s' })).toEqual({ attempt: 3, executions: 3 });
      const events = await run.events();
      const failed = events.filter((e) => e.type === 'step_failed') as Extract<DurablyEvent, { type: 'step_failed' }>[];
      expect(failed.map((e) => e.data.attempt)).toEqual([1, 2]);
      expect(failed[0].data.error.name).toBe('RetryableError');
      expect(failed[0].data.error.message).toBe('busy (attempt 1)');
      expect(failed[0].data.error.stack).toContain('busy');
      expect(failed[0].data.retryAt! - failed[0].at).toBe(20);
      expect(failed[1].data.retryAt! - failed[1].at).toBe(40);
      const done = events.find((e) => e.type === 'step_completed') as Extract<DurablyEvent, { type: 'step_completed' }>;
      expect(done.data.attempt).toBe(3);
      expect(done.at - failed[1].at).toBeGreaterThanOrEqual(35);
    });

    it('retries plain errors too, and fails the step once the attempts run out', async () => {
      const { c } = await setup();
      const run = await c.start(W.exhaustedWf);
      const error = await run.result({ timeout: '20s' }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(WorkflowFailedError);
      expect((error as Error).message).toContain('suite.always-fails');
      expect((error as Error).message).toContain('3 attempt(s)');
      expect(W.countOf(`${run.runId}:always`)).toBe(3);
      const failed = (await run.events()).filter((e) => e.type === 'step_failed') as Extract<DurablyEvent, { type: 'step_failed' }>[];
      expect(failed.map((e) => e.data.retryAt === undefined)).toEqual([false, false, true]);
      expect(await run.status()).toBe('failed');
    });

    it('does not retry a FatalError; the workflow can catch it as StepFailedError', async () => {
      const { c } = await setup();
      const uncaught = await c.start(W.fatalWf, false);
      const error = await uncaught.result({ timeout: '20s' }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(WorkflowFailedError);
      expect(((error as Error).cause as Error).name).toBe('StepFailedError');
      expect((error as Error).message).toContain('card declined');
      expect(W.countOf(`${uncaught.runId}:declined`)).toBe(1);
      const record = await uncaught.record();
      expect(record.error?.name).toBe('StepFailedError');

      const caught = await c.start(W.fatalWf, true);
      expect(await caught.result({ timeout: '20s' })).toEqual({ caught: 'StepFailedError', message: expect.stringContaining('card declined'), cause: 'card declined' });
      expect(new StepFailedError('x', 1, new Error('y')).code).toBe('STEP_FAILED');
    });

    it('honours RetryableError retryAfter over the backoff', async () => {
      const { c } = await setup();
      const run = await c.start(W.retryAfterWf);
      expect(await run.result({ timeout: '20s' })).toBe(2);
      const failed = (await run.events()).find((e) => e.type === 'step_failed') as Extract<DurablyEvent, { type: 'step_failed' }>;
      expect(failed.data.retryAt! - failed.at).toBe(150);
    });

    it('times out an attempt after its per-attempt timeout and retries it', async () => {
      const { c } = await setup();
      const run = await c.start(W.timeoutWf);
      expect(await run.result({ timeout: '20s' })).toBe('attempt 2');
      const failed = (await run.events()).find((e) => e.type === 'step_failed') as Extract<DurablyEvent, { type: 'step_failed' }>;
      expect(failed.data.error.name).toBe('StepTimeoutError');
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
      const { c } = await setup();
      W.codeVersion.current = 1;
      const run = await c.start(W.changingWf);
      // Wait until the run is suspended on its sleep, then "deploy" changed code.
      await waitFor(async () => (await run.events()).some((e) => e.type === 'sleep_started'), 10_000);
      W.codeVersion.current = 2;
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

    it('returns the first run for a second start with the same idempotency key', async () => {
      const { c } = await setup();
      const key = `key-${crypto.randomUUID()}`;
      const [a, b] = await Promise.all([
        c.startWith(W.threeSteps, [], { idempotencyKey: key }),
        c.startWith(W.threeSteps, [], { idempotencyKey: key }),
      ]);
      expect(a.runId).toBe(b.runId);
      const again = await c.startWith(W.threeSteps, [], { idempotencyKey: key });
      expect(again.runId).toBe(a.runId);
      expect(await a.result({ timeout: '20s' })).toBe('abc');
      expect(W.countOf(`${a.runId}:counted:a`)).toBe(1);
    });

    it('delays a start with `delay`', async () => {
      const { c } = await setup();
      const t0 = Date.now();
      const run = await c.startWith(W.plainCalls, [1], { delay: '400ms' });
      expect(await run.status()).toBe('pending');
      expect(await run.result({ timeout: '20s' })).toBe(2);
      const events = await run.events();
      expect(events.find((e) => e.type === 'run_started')!.at - t0).toBeGreaterThanOrEqual(380);
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

    it('cancels a sleeping run; cancelling a finished run is a clear error', async () => {
      const { c } = await setup();
      const run = await c.start(W.sleeper, 60_000);
      await waitFor(async () => (await run.status()) === 'suspended', 10_000);
      await run.cancel('no longer needed');
      await expect(run.result({ timeout: '20s' })).rejects.toBeInstanceOf(CancelledError);
      expect(await run.status()).toBe('cancelled');
      expect(types(await run.events())).toEqual(expect.arrayContaining(['cancel_requested', 'run_cancelled']));
      await expect(run.cancel()).rejects.toBeInstanceOf(RunAlreadyFinishedError);
    });

    it('suspends on a hook until resumeHook from another client; wrong, invalid and used tokens are typed errors that change nothing', async () => {
      const { c } = await setup();
      const other = await client();
      const run = await c.start(W.expense, 60_000);
      await waitFor(() => W.issuedTokens.has(run.runId), 10_000);
      const token = W.issuedTokens.get(run.runId)!;
      expect(Buffer.from(token, 'base64url').length).toBeGreaterThanOrEqual(16); // >= 128 bits
      await waitFor(async () => (await run.status()) === 'suspended', 10_000);
      const before = (await run.events()).length;
      await expect(other.resumeHook('not-a-token', { approved: true, by: 'ana' })).rejects.toBeInstanceOf(HookNotFoundError);
      const invalid = await other.resumeHook(token, { approved: 'yes', by: '' }).catch((e: unknown) => e);
      expect(invalid).toBeInstanceOf(HookPayloadInvalidError);
      expect((invalid as Error).message).toContain('approved');
      expect((await run.events()).length).toBe(before);
      expect(await other.resumeHook(token, { approved: true, by: 'ana' })).toEqual({ runId: run.runId });
      expect(await run.result({ timeout: '20s' })).toEqual({ decision: { approved: true, by: 'ana' } });
      // The resumed hook's timeout timer went with the run's appends (it used to stay until it fired).
      expect(await c.storage.listTimers(run.runId)).toEqual([]);
      await expect(other.resumeHook(token, { approved: false, by: 'bob' })).rejects.toBeInstanceOf(HookAlreadyUsedError);
      const events = await run.events();
      expect(events.filter((e) => e.type === 'hook_received')).toHaveLength(1);
      const created = events.find((e) => e.type === 'hook_created') as Extract<DurablyEvent, { type: 'hook_created' }>;
      expect(created.data).toMatchObject({ name: 'suite.approval', token });
    });

    it('times a hook out: the workflow sees HookTimeoutError and the token is expired', async () => {
      const { c } = await setup();
      const run = await c.start(W.expense, 200);
      expect(await run.result({ timeout: '20s' })).toEqual({ error: 'HookTimeoutError' });
      const token = W.issuedTokens.get(run.runId)!;
      await expect(c.resumeHook(token, { approved: true, by: 'late' })).rejects.toBeInstanceOf(HookExpiredError);
      expect(types(await run.events())).toContain('hook_timed_out');
    });

    it('buffers signals sent before the wait and delivers each once, in order; a wait can time out', async () => {
      const { c } = await setup();
      const other = await client();
      const run = await c.start(W.collector, 3, 300);
      await other.sendSignal(run.runId, 'item', { n: 1 });
      await other.sendSignal(run.runId, 'item', { n: 2 });
      await waitFor(async () => (await run.status()) === 'suspended', 10_000);
      await other.sendSignal(run.runId, 'item', { n: 3 });
      await other.sendSignal(run.runId, 'unrelated', 'ignored');
      expect(await run.result({ timeout: '20s' })).toEqual({ got: [{ n: 1 }, { n: 2 }, { n: 3 }], late: 'SignalTimeoutError' });
      const events = await run.events();
      expect(events.filter((e) => e.type === 'signal_received')).toHaveLength(4);
      await expect(other.sendSignal(run.runId, 'item', 4)).rejects.toBeInstanceOf(RunAlreadyFinishedError);
    });

    it('replays the old path of a run started before patched() was added, and takes the new path in new runs', async () => {
      const { c } = await setup();
      W.versioned.patched = false;
      try {
        const old = await c.start(W.patchedWf);
        // Let the old code record its step, then deploy the patched code while the run sleeps.
        await waitFor(async () => (await old.events()).filter((e) => e.type === 'sleep_started').length === 2, 10_000);
        W.versioned.patched = true;
        const fresh = await c.start(W.patchedWf);
        expect(await old.result({ timeout: '20s' })).toBe('old');
        expect(await fresh.result({ timeout: '20s' })).toBe('new');
        expect(types(await fresh.events())).toContain('patch_marker');
        expect(types(await old.events())).not.toContain('patch_marker');
      } finally {
        W.versioned.patched = false;
      }
    });

    it('continues as new: a loop runs as a chain of linked runs, each with a short history', async () => {
      const { c } = await setup();
      const first = await c.start(W.looping, 0, 40);
      expect(await first.result({ timeout: '60s' })).toBe(40);
      let runId: string | undefined = first.runId;
      let previous: string | undefined;
      let runs = 0;
      while (runId) {
        const events: DurablyEvent[] = await c.getRun(runId).events();
        expect(events.length).toBeLessThanOrEqual(5);
        const created = events[0] as Extract<DurablyEvent, { type: 'run_created' }>;
        expect(created.data.continuedFrom).toBe(previous);
        const last: DurablyEvent = events.at(-1)!;
        previous = runId;
        runId = last.type === 'run_continued' ? last.data.nextRunId : undefined;
        runs++;
      }
      expect(runs).toBe(40);
      expect(await first.status()).toBe('continued');
    });

    it('enforces the payload size limit at start and at step return, with a clear error', async () => {
      const c = await client(undefined, { maxPayloadBytes: 2000 });
      await worker(c);
      const error = await c.start(W.roundTrip, 'y'.repeat(5000)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PayloadTooLargeError);
      expect((error as Error).message).toContain('limits.maxPayloadBytes');
      const run = await c.start(W.bigResult, 5000);
      expect(await run.result({ timeout: '20s' })).toEqual({ name: 'StepFailedError', cause: 'PayloadTooLargeError' });
      const failed = (await run.events()).filter((e) => e.type === 'step_failed');
      expect(failed).toHaveLength(1); // not retried
    });

    it('fails a run that reaches the event hard limit with EventLimitExceededError', async () => {
      const c = await client(undefined, { maxEvents: 30, warnEvents: 10 });
      await worker(c);
      const run = await c.start(W.manySteps, 100);
      const error = await run.result({ timeout: '20s' }).catch((e: unknown) => e);
      expect(((error as Error).cause as Error).name).toBe('EventLimitExceededError');
      const events = await run.events();
      expect(events.length).toBeLessThanOrEqual(31);
      expect(events.at(-1)!.type).toBe('run_failed');
      const fine = await c.start(W.manySteps, 5);
      expect(await fine.result({ timeout: '20s' })).toBe(5);
    });

    it('deletes finished runs older than the retention period and keeps unfinished ones', async () => {
      const { c } = await setup();
      const done = await c.start(W.plainCalls, 1);
      await done.result({ timeout: '20s' });
      const waiting = await c.start(W.sleeper, 60_000);
      await waitFor(async () => (await waiting.status()) === 'suspended', 10_000);
      await new Promise((r) => setTimeout(r, 20));
      expect(await c.deleteFinishedRuns('10ms')).toBeGreaterThanOrEqual(1);
      expect(await c.storage.getRun(done.runId)).toBeUndefined();
      expect(await waiting.status()).toBe('suspended');
    });

    it('cancels a run mid-step: the step signal fires, finally blocks run and shielded cleanup steps are recorded', async () => {
      const { c } = await setup();
      const run = await c.start(W.cancellable);
      await waitFor(() => W.countOf(`${run.runId}:abortable-started`) === 1, 10_000);
      await c.cancel(run.runId, 'customer left');
      await expect(run.result({ timeout: '20s' })).rejects.toBeInstanceOf(CancelledError);
      expect(W.countOf(`${run.runId}:aborted`)).toBe(1);
      expect(W.countOf(`${run.runId}:cleanup`)).toBe(1);
      const events = await run.events();
      const cleanupDone = events.find((e) => e.type === 'step_completed' && (e.data as { name: string }).name === 'suite.cleanup');
      expect(cleanupDone).toBeDefined();
      expect(events.at(-1)!.type).toBe('run_cancelled');
      expect((events.at(-1)!.data as { reason?: string }).reason).toBe('customer left');
    });

    it('runs child workflows: results, a typed failure the parent catches, and children listed under the parent', async () => {
      const { c } = await setup();
      const run = await c.start(W.parentWf, 1);
      const result = (await run.result({ timeout: '30s' })) as { a: number; b: number; failure: { name: string; cause: string }; childId: string };
      expect(result.a).toBe(20);
      expect(result.b).toBe(30);
      expect(result.failure).toEqual({ name: 'ChildWorkflowFailedError', cause: 'child 3 refused' });
      const children = await c.listRuns({ parentRunId: run.runId });
      expect(children.runs).toHaveLength(3);
      expect(children.runs.map((r) => r.status).sort()).toEqual(['completed', 'completed', 'failed']);
      expect(children.runs.map((r) => r.runId)).toContain(result.childId);
      expect((await run.events()).filter((e) => e.type === 'child_started')).toHaveLength(3);
    });

    it('applies the parent-close policy to children still running when the parent ends', async () => {
      const { c } = await setup();
      const outcome = async (policy: 'terminate' | 'request_cancel' | 'abandon') => {
        const parent = await c.start(W.leavingParent, policy);
        const childId = (await parent.result({ timeout: '20s' })) as string;
        const child = c.getRun(childId);
        if (policy !== 'abandon') await waitFor(async () => (await child.status()) === 'cancelled', 10_000);
        else await waitFor(async () => (await child.status()) === 'suspended', 10_000);
        return { child, childId };
      };
      const terminated = await outcome('terminate');
      expect(W.countOf(`${terminated.childId}:cleanup`)).toBe(0); // terminated: no cleanup ran
      const requested = await outcome('request_cancel');
      await waitFor(() => W.countOf(`${requested.childId}:cleanup`) === 1, 10_000); // cancelled: its finally ran
      const abandoned = await outcome('abandon');
      expect(await abandoned.child.status()).toBe('suspended');
      await abandoned.child.cancel('test over');
    });

    it('answers a query from the run\'s log without changing it', async () => {
      const { c } = await setup();
      const run = await c.start(W.queried, 3);
      await c.sendSignal(run.runId, 'q-item', 1);
      await c.sendSignal(run.runId, 'q-item', 2);
      await waitFor(async () => (await run.status()) === 'suspended' && (await run.events()).filter((e) => e.type === 'signal_received').length === 2, 10_000);
      await new Promise((r) => setTimeout(r, 50));
      const before = await run.events();
      expect(await c.query(W.queried, run.runId, W.progressQuery)).toEqual({ received: 2 });
      expect(await run.events()).toEqual(before);
      await c.sendSignal(run.runId, 'q-item', 3);
      expect(await run.result({ timeout: '20s' })).toBe(3);
      expect(await c.query(W.queried, run.runId, W.progressQuery)).toEqual({ received: 3 });
    });

    async function runsOfSchedule(c: Client, scheduleId: string) {
      const all = [];
      let cursor: string | undefined;
      do {
        const page = await c.listRuns({ workflow: 'suite.scheduled', limit: 1000, cursor });
        all.push(...page.runs.filter((r) => r.idempotencyKey?.startsWith(`schedule:${scheduleId}:`)));
        cursor = page.nextCursor;
      } while (cursor);
      return all.sort((a, b) => a.createdAt - b.createdAt);
    }

    it('fires an interval schedule from two schedulers without firing any slot twice; pause, resume, trigger, delete', async () => {
      const c1 = await client();
      const c2 = await client();
      await worker(c1, { scheduleInterval: '30ms' });
      await worker(c2, { scheduleInterval: '30ms' });
      const id = `every-${crypto.randomUUID().slice(0, 8)}`;
      const t0 = Date.now();
      const created = await c1.schedules.create(id, W.scheduledJob, { every: '200ms', args: ['tick', 0], overlap: 'allow_all' });
      expect(created.nextFireAt! - t0).toBeGreaterThanOrEqual(190);
      await waitFor(async () => (await runsOfSchedule(c1, id)).length >= 4, 15_000);
      const runs = await runsOfSchedule(c1, id);
      const slots = runs.map((r) => Number(r.idempotencyKey!.split(':').at(-1)));
      expect(new Set(slots).size).toBe(slots.length);
      for (const slot of slots) expect((slot - slots[0]) % 200).toBe(0);
      expect(slots.length).toBeLessThanOrEqual(Math.floor((Date.now() - t0) / 200) + 1);

      await c2.schedules.pause(id);
      await new Promise((r) => setTimeout(r, 100));
      const paused = (await runsOfSchedule(c1, id)).length;
      await new Promise((r) => setTimeout(r, 600));
      expect((await runsOfSchedule(c1, id)).length).toBe(paused);
      expect((await c1.schedules.get(id))!.paused).toBe(true);

      const manual = await c1.schedules.trigger(id);
      expect(await c1.getRun(manual).result({ timeout: '10s' })).toBe('tick');
      await c1.schedules.resume(id);
      await waitFor(async () => (await runsOfSchedule(c1, id)).length >= paused + 2, 10_000);

      await c1.schedules.delete(id);
      expect(await c1.schedules.get(id)).toBeUndefined();
      await expect(c1.schedules.delete(id)).rejects.toBeInstanceOf(ScheduleNotFoundError);
      expect((await c1.schedules.list()).some((s) => s.scheduleId === id)).toBe(false);
    });

    it('applies the overlap policies: skip and buffer_one never overlap, cancel_previous cancels the running one', async () => {
      const c = await client();
      await worker(c, { scheduleInterval: '20ms' });
      const ids = { skip: `skip-${crypto.randomUUID().slice(0, 8)}`, buffer: `buf-${crypto.randomUUID().slice(0, 8)}`, cancel: `cancel-${crypto.randomUUID().slice(0, 8)}` };
      await c.schedules.create(ids.skip, W.scheduledJob, { every: '100ms', args: ['s', 250], overlap: 'skip' });
      await c.schedules.create(ids.buffer, W.scheduledJob, { every: '100ms', args: ['b', 250], overlap: 'buffer_one' });
      await c.schedules.create(ids.cancel, W.scheduledJob, { every: '100ms', args: ['c', 250], overlap: 'cancel_previous' });
      await new Promise((r) => setTimeout(r, 1500));
      for (const id of Object.values(ids)) await c.schedules.pause(id);
      for (const id of [ids.skip, ids.buffer]) {
        const runs = await runsOfSchedule(c, id);
        expect(runs.length).toBeGreaterThanOrEqual(2);
        for (const r of runs) await c.getRun(r.runId).result({ timeout: '10s' });
        const spans = await Promise.all(
          runs.map(async (r) => {
            const events = await c.getRun(r.runId).events();
            return { start: events[0].at, end: events.at(-1)!.at };
          }),
        );
        for (let i = 1; i < spans.length; i++) expect(spans[i].start).toBeGreaterThanOrEqual(spans[i - 1].end);
      }
      const cancelled = await runsOfSchedule(c, ids.cancel);
      await waitFor(async () => {
        const statuses = await Promise.all(cancelled.map((r) => c.getRun(r.runId).status()));
        return statuses.filter((st) => st === 'cancelled').length >= 1;
      }, 10_000);
    });

    it('catches up missed slots after downtime as configured: all, latest or none', async () => {
      const c = await client();
      const startAt = new Date(Date.now() - 5_500);
      const id = (p: string) => `catch-${p}-${crypto.randomUUID().slice(0, 8)}`;
      const all = id('all');
      const latest = id('latest');
      const none = id('none');
      await c.schedules.create(all, W.scheduledJob, { every: '1s', startAt, catchUp: 'all', args: ['a', 0], overlap: 'allow_all' });
      await c.schedules.create(latest, W.scheduledJob, { every: '1s', startAt, catchUp: 'latest', args: ['l', 0], overlap: 'allow_all' });
      await c.schedules.create(none, W.scheduledJob, { every: '1s', startAt: new Date(Date.now() - 125_000), catchUp: 'none', args: ['n', 0], overlap: 'allow_all' });
      // No scheduler ran while the slots passed; now one starts.
      const w = await worker(c, { scheduleInterval: '20ms' });
      await waitFor(async () => (await runsOfSchedule(c, all)).length >= 6 && (await runsOfSchedule(c, latest)).length >= 1, 10_000);
      await w.stop();
      expect((await runsOfSchedule(c, all)).length).toBeLessThanOrEqual(7);
      expect((await runsOfSchedule(c, latest)).length).toBeLessThanOrEqual(2);
      expect((await runsOfSchedule(c, latest)).length).toBeGreaterThanOrEqual(1);
      const noneRuns = await runsOfSchedule(c, none);
      // Slots two minutes old are not fired; only the on-time ones since the scheduler started.
      for (const r of noneRuns) expect(Number(r.idempotencyKey!.split(':').at(-1))).toBeGreaterThan(Date.now() - 70_000);
      for (const sid of [all, latest, none]) await c.schedules.delete(sid);
    });

    it('computes cron slots in the schedule\'s time zone and rejects bad specs', async () => {
      const c = await client();
      const id = `cron-${crypto.randomUUID().slice(0, 8)}`;
      const record = await c.schedules.create(id, W.scheduledJob, { cron: '0 9 * * MON', timezone: 'Europe/Prague', args: ['weekly', 0] });
      const local = new Date(record.nextFireAt!).toLocaleString('en-GB', { timeZone: 'Europe/Prague', weekday: 'long', hour: '2-digit', minute: '2-digit' });
      expect(local).toBe('Monday 09:00');
      expect(record.nextFireAt! - Date.now()).toBeLessThanOrEqual(7 * 86_400_000);
      await expect(c.schedules.create(`${id}-bad`, W.scheduledJob, { cron: '61 * * * *' })).rejects.toThrow(/cron "61 \* \* \* \*"/);
      await expect(c.schedules.create(`${id}-tz`, W.scheduledJob, { cron: '0 9 * * *', timezone: 'Mars/Olympus' })).rejects.toThrow(/Mars\/Olympus/);
      await expect(c.schedules.create(`${id}-both`, W.scheduledJob, { cron: '* * * * *', every: '1m' })).rejects.toThrow(/exactly one/);
      await c.schedules.delete(id);
    });

    it('holds runs to a per-key and a per-workflow concurrency limit under many concurrent starts', async () => {
      const c1 = await client();
      const c2 = await client();
      await worker(c1);
      await worker(c2);
      const tag = crypto.randomUUID().slice(0, 8);
      const users = ['ana', 'bob', 'cyd'];
      const runs = await Promise.all(Array.from({ length: 15 }, (_, i) => (i % 2 ? c1 : c2).start(W.perUser, users[i % 3], tag)));
      const total = await Promise.all(Array.from({ length: 8 }, () => c1.start(W.limitedTotal, `total-${tag}`)));
      for (const r of [...runs, ...total]) await r.result({ timeout: '30s' });
      for (const u of users) expect(W.inFlight.get(`${tag}:${u}`)!.max).toBe(1);
      expect(W.inFlight.get(`total-${tag}`)!.max).toBeLessThanOrEqual(2);
      expect(W.inFlight.get(`total-${tag}`)!.max).toBeGreaterThanOrEqual(1);
    });

    it('spaces the attempts of a rate-limited step across windows', async () => {
      const { c } = await setup();
      const tag = crypto.randomUUID().slice(0, 8);
      const run = await c.start(W.rateWf, tag, 12);
      expect(await run.result({ timeout: '30s' })).toBe(12);
      const starts = W.rateStarts.get(tag)!.sort((a, b) => a - b);
      expect(starts).toHaveLength(12);
      // 12 permits at 5 per 500 ms window need three windows: a whole window lies between the first and
      // the last grant (the bodies' own timestamps may lag their grants by a round trip, hence 400).
      expect(starts.at(-1)! - starts[0]).toBeGreaterThan(400);
    });

    it('hands in-flight work back on stop: another worker finishes it without waiting for a visibility timeout', async () => {
      const a = await client();
      const b = await client();
      const first = await worker(a, { visibilityTimeout: '60s', staleAfter: '60s' });
      const run = await a.start(W.handBackWf);
      await waitFor(() => W.countOf(`${run.runId}:hand-back`) === 1, 10_000);
      await worker(b, { visibilityTimeout: '60s', staleAfter: '60s' });
      const t0 = Date.now();
      await first.stop({ grace: '200ms' });
      expect(await b.getRun(run.runId).result({ timeout: '20s' })).toBe('second');
      expect(Date.now() - t0).toBeLessThan(10_000);
      const completed = (await run.events()).filter((e) => e.type === 'step_completed');
      expect(completed).toHaveLength(1);
    });

    it('enforces maxDuration, also while the run is suspended', async () => {
      const { c } = await setup();
      const run = await c.start(W.timedWf);
      const error = await run.result({ timeout: '20s' }).catch((e: unknown) => e);
      expect(((error as Error).cause as Error).name).toBe('WorkflowTimeoutError');
      const events = await run.events();
      expect(events.at(-1)!.at - events[0].at).toBeGreaterThanOrEqual(390);
      expect(await c.storage.listTimers(run.runId)).toEqual([]);
    });

    it('validates workflow arguments at start and step arguments before each attempt, without retrying', async () => {
      const { c } = await setup();
      const bad = await c.start(W.validatedWf, 'not-an-email', 1).catch((e: unknown) => e);
      expect((bad as Error).name).toBe('ArgumentValidationError');
      expect((bad as Error).message).toContain('workflow "suite.validated"');
      expect((await c.listRuns({ workflow: 'suite.validated' })).runs).toHaveLength(0);
      const run = await c.start(W.validatedWf, 'ana@example.com', -1);
      expect(await run.result({ timeout: '20s' })).toEqual({ name: 'StepFailedError', cause: 'ArgumentValidationError', email: 'ana@example.com' });
      expect((await run.events()).filter((e) => e.type === 'step_failed')).toHaveLength(1);
      const fine = await c.start(W.validatedWf, 'bo@example.com', 4);
      expect(await fine.result({ timeout: '20s' })).toBe(8);
    });

    it('reads the chain of runs linked by continueAsNew, oldest first, from any run of it', async () => {
      const { c } = await setup();
      const first = await c.start(W.looping, 0, 5);
      expect(await first.result({ timeout: '20s' })).toBe(5);
      const chain = await c.getRunChain(first.runId);
      expect(chain).toHaveLength(5);
      expect(chain[0].runId).toBe(first.runId);
      expect(chain.slice(0, 4).every((r) => r.status === 'continued')).toBe(true);
      expect(chain[4].status).toBe('completed');
      expect((await c.getRunChain(chain[2].runId)).map((r) => r.runId)).toEqual(chain.map((r) => r.runId));
    });

    it('hands signals a run had not consumed to the run that continues it; sendSignal and cancel follow the chain', async () => {
      const { c } = await setup();
      const other = await client();
      const run = await c.start(W.relay, [], 6);
      for (let n = 1; n <= 6; n++) await other.sendSignal(run.runId, 'item', n);
      await waitFor(async () => (await c.getRunChain(run.runId)).at(-1)!.status === 'completed', 20_000);
      const chain = await c.getRunChain(run.runId);
      expect(chain).toHaveLength(6);
      expect(await c.getRun(chain.at(-1)!.runId).result({ timeout: '5s' })).toEqual([1, 2, 3, 4, 5, 6]);
      await expect(other.sendSignal(run.runId, 'item', 7)).rejects.toBeInstanceOf(RunAlreadyFinishedError);
      // cancel() on a run that continued goes to the run that is current, like a signal.
      const looping = await c.start(W.relay, [], 5);
      await other.sendSignal(looping.runId, 'item', 1);
      await waitFor(async () => (await c.getRunChain(looping.runId)).length === 2 && (await c.getRunChain(looping.runId))[1].status === 'suspended', 20_000);
      await other.cancel(looping.runId, 'enough');
      await waitFor(async () => (await c.getRunChain(looping.runId)).at(-1)!.status === 'cancelled', 20_000);
      await expect(looping.result({ timeout: '5s' })).rejects.toBeInstanceOf(CancelledError);
    });

    it('runs a stream: workers report to a planner that waits for approval; runStream returns on suspension and on completion', async () => {
      const { c } = await setup();
      const other = await client();
      const a = `plan-a-${crypto.randomUUID().slice(0, 8)}`;
      const b = `plan-b-${crypto.randomUUID().slice(0, 8)}`;
      const runA = await c.start(W.planWorkflow, a, ['alpha', 'beta', 'gamma']);
      const runB = await c.start(W.planWorkflow, b, ['delta']);
      // inspectStream reads a stream run's state from its log, from any client.
      const suspended = async (id: string) => (await inspectStream(W.planStream, { streamRunId: id, client: other }))?.status === 'suspended';
      // ...and the workflows have their first outcome (an approval before that would let the stream
      // complete before the first runStream looked, which it would then report instead).
      const firstOutcome = async (run: typeof runA) => (await run.events()).some((e) => e.type === 'signal_received' && e.data.name.startsWith('durably.stream.outcome:'));
      await waitFor(async () => (await suspended(a)) && (await firstOutcome(runA)), 20_000);
      await waitFor(async () => (await suspended(b)) && (await firstOutcome(runB)), 20_000);
      const snapshot = (await inspectStream(W.planStream, { streamRunId: a, client: other }))!;
      expect(snapshot.steps.planner.status).toBe('suspended');
      expect(snapshot.steps.worker.status).toBe('active');
      expect(await inspectStream(W.planStream, { streamRunId: `missing-${a}`, client: other })).toBeUndefined();
      // A payload that fails the schema is acknowledged, recorded and skipped.
      await emit(W.planStream, 'approval', { approved: 'yes' }, { streamRunId: a, client: other });
      await emit(W.planStream, 'approval', { approved: true }, { streamRunId: a, client: other });
      await emit(W.planStream, 'approval', { approved: false }, { streamRunId: b, client: other });
      const resultA = (await runA.result({ timeout: '30s' })) as { first: StreamOutcome; second: StreamOutcome };
      expect(resultA.first.status).toBe('suspended');
      expect(resultA.first.steps.planner.status).toBe('suspended');
      expect((resultA.first.steps.planner.state as { answers: string[] }).answers.sort()).toEqual(['ALPHA', 'BETA', 'GAMMA']);
      expect(resultA.second.status).toBe('completed');
      expect(resultA.second.steps.planner).toMatchObject({ status: 'completed', result: { approved: ['ALPHA', 'BETA', 'GAMMA'] } });
      expect(resultA.second.steps.worker).toMatchObject({ status: 'terminated', reason: 'planner finished' });
      expect(resultA.second.rejected).toHaveLength(1);
      expect(resultA.second.rejected[0]).toMatchObject({ type: 'approval' });
      expect(resultA.second.rejected[0].reason).toMatch(/approved/);
      // plan + 3 assigned + 3 done + 2 approvals + shutdown: numbered 1..10 in one sequence.
      expect(resultA.second.seq).toBe(10);
      const resultB = (await runB.result({ timeout: '30s' })) as { first: StreamOutcome; second: StreamOutcome };
      expect(resultB.second.steps.planner).toMatchObject({ status: 'terminated', reason: 'rejected', state: { answers: ['DELTA'] } });
      expect(resultB.second.seq).toBe(5);
      // Two stream runs never see each other's signals. Each task's result is recorded once (the
      // answers above); a handler body may run again when a signal lands during its step (at least once).
      for (const t of ['alpha', 'beta', 'gamma']) expect(W.countOf(`stream:${a}:work:${t}`)).toBeGreaterThanOrEqual(1);
      expect(W.countOf(`stream:${b}:work:delta`)).toBeGreaterThanOrEqual(1);
      expect(W.countOf(`stream:${b}:work:alpha`)).toBe(0);
      expect(W.countOf(`stream:${a}:work:delta`)).toBe(0);
      await expect(emit(W.planStream, 'approval', { approved: true }, { streamRunId: `missing-${a}`, client: other })).rejects.toBeInstanceOf(StreamRunNotFoundError);
    });

    it('delivers scheduled stream signals after their delay, from a handler and from a client; a failing handler fails only its step', async () => {
      const { c } = await setup();
      const other = await client();
      const id = `timers-${crypto.randomUUID().slice(0, 8)}`;
      await startStream(W.timerStream, { streamRunId: id, input: { delayMs: 300 }, client: other });
      const began = Date.now();
      await scheduleSignal(W.timerStream, 'tock', { from: 'client' }, { delay: '500ms', streamRunId: id, client: other });
      const run = await c.start(W.timerWorkflow, id, 300);
      const outcome = (await run.result({ timeout: '30s' })) as StreamOutcome;
      expect(Date.now() - began).toBeGreaterThanOrEqual(450);
      expect(outcome.status).toBe('completed');
      expect(outcome.steps.clock.result).toEqual(['tick:', 'tock:body', 'tock:client']);
      expect(outcome.steps.fragile.status).toBe('failed');
      expect(outcome.steps.fragile.reason).toMatch(/always fails/);
    });

    it('keeps a long stream run history bounded: it continues as new with its state and loses no signal', async () => {
      const { c } = await setup();
      const other = await client();
      const id = `counter-${crypto.randomUUID().slice(0, 8)}`;
      const run = await c.start(W.counterWorkflow, id);
      await waitFor(async () => (await other.listRuns({ workflow: STREAM_WORKFLOW, tags: [`stream:suite.counter/${id}`] })).runs.length === 1, 10_000);
      for (let n = 1; n <= 10; n++) await emit(W.counterStream, 'add', n, { streamRunId: id, client: other });
      const outcome = (await run.result({ timeout: '30s' })) as StreamOutcome;
      expect(outcome.steps.sum).toMatchObject({ status: 'completed', result: 55, handled: 10 });
      expect(outcome.seq).toBe(10);
      const first = (await other.listRuns({ workflow: STREAM_WORKFLOW, tags: [`stream:suite.counter/${id}`] })).runs[0];
      const chain = await other.getRunChain(first.runId);
      expect(chain.length).toBeGreaterThanOrEqual(3);
      // The last stream run tells its watcher the outcome, then records its own end: wait for that.
      await waitFor(async () => (await other.getRunChain(first.runId)).at(-1)!.status === 'completed', 10_000);
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

    it('resumes a step from its checkpoint on the next attempt and deletes the checkpoint when the step completes', async () => {
      const { c } = await setup();
      const run = await c.start(W.checkpointWf, 6, 3);
      expect(await run.result({ timeout: '20s' })).toBe(6);
      expect(W.processed.get(run.runId)).toEqual([1, 2, 3, 4, 5, 6]); // nothing done twice
      const stepId = (await run.events()).find((e) => e.type === 'step_completed')!.correlationId!;
      expect(await c.storage.getCheckpoint(run.runId, stepId)).toBeUndefined();
    });

    it('suspends a step on stepHook; after resumeHook the step runs again from the top and gets the payload', async () => {
      const { c } = await setup();
      const other = await client();
      const run = await c.start(W.reviewWf, 'doc-1', 60_000);
      await waitFor(() => W.stepHookTokens.has(run.runId), 10_000);
      await waitFor(async () => (await run.status()) === 'suspended', 10_000);
      const token = W.stepHookTokens.get(run.runId)!;
      await expect(other.resumeHook(token, { ok: 'yes' })).rejects.toBeInstanceOf(HookPayloadInvalidError);
      await other.resumeHook(token, { ok: true });
      expect(await run.result({ timeout: '20s' })).toBe('doc-1: approved');
      expect(W.countOf(`${run.runId}:reviewed`)).toBe(2);
      const types = (await run.events()).map((e) => e.type);
      expect(types.filter((t) => t === 'step_completed')).toHaveLength(1);
      expect(types).toEqual(expect.arrayContaining(['hook_created', 'hook_received']));
      await expect(other.resumeHook(token, { ok: false })).rejects.toBeInstanceOf(HookAlreadyUsedError);

      const late = await c.start(W.reviewWf, 'doc-2', 200);
      expect(await late.result({ timeout: '20s' })).toBe('doc-2: HookTimeoutError');
    });

    async function runsOf(c: Client, workflowName: string, scheduleId: string) {
      const page = await c.listRuns({ workflow: workflowName, limit: 1000 });
      return page.runs.filter((r) => r.idempotencyKey?.startsWith(`schedule:${scheduleId}:`)).sort((a, b) => a.createdAt - b.createdAt);
    }

    it('backfills one run per missed slot, each with its scheduled time, never twice; records the lifecycle', async () => {
      const c = await client();
      await worker(c, { scheduleInterval: '30ms' });
      const id = `backfill-${crypto.randomUUID().slice(0, 8)}`;
      const hour = 3_600_000;
      const base = Math.floor(Date.now() / hour) * hour - 10 * hour;
      await c.schedules.create(id, W.stampedJob, { every: '1h', startAt: new Date(base), catchUp: 'none', args: [0] });
      const started = await c.schedules.backfill(id, new Date(base + hour), new Date(base + 3 * hour));
      expect(started).toHaveLength(3);
      const results = (await Promise.all(started.map((r) => c.getRun(r).result({ timeout: '20s' })))) as Array<{ scheduledAt: number; scheduleId: string }>;
      expect(results.map((r) => r.scheduledAt).sort()).toEqual([base + hour, base + 2 * hour, base + 3 * hour]);
      expect(results.every((r) => r.scheduleId === id)).toBe(true);
      expect(await c.schedules.backfill(id, new Date(base + hour), new Date(base + 3 * hour))).toEqual([]);
      await c.schedules.pause(id);
      await c.schedules.resume(id);
      const record = (await c.schedules.get(id))!;
      expect(record.history!.map((h) => h.action)).toEqual(['created', 'backfilled', 'backfilled', 'paused', 'resumed']);
      expect(record.stats!.fired).toBe(3);
      await c.schedules.delete(id);
    });

    it('stops at endAt, spreads starts by jitter, buffers every slot with buffer_all, and prunes finished runs from its statistics', async () => {
      const c = await client();
      await worker(c, { scheduleInterval: '20ms' });
      const ended = `end-${crypto.randomUUID().slice(0, 8)}`;
      await c.schedules.create(ended, W.stampedJob, { every: '100ms', endAt: new Date(Date.now() + 350), args: [0], overlap: 'allow_all', jitter: '30ms' });
      const buffered = `all-${crypto.randomUUID().slice(0, 8)}`;
      await c.schedules.create(buffered, W.stampedJob, { every: '100ms', args: [220], overlap: 'buffer_all' });
      await new Promise((r) => setTimeout(r, 1200));
      await c.schedules.pause(buffered);
      const endedRuns = await runsOf(c, 'suite.stamped', ended);
      expect(endedRuns.length).toBeGreaterThanOrEqual(2);
      expect(endedRuns.length).toBeLessThanOrEqual(4);
      expect((await c.schedules.get(ended))!.nextFireAt).toBeUndefined();
      for (const r of endedRuns) {
        const slot = Number(r.idempotencyKey!.split(':').at(-1));
        expect(r.startAt === undefined || (r.startAt >= r.createdAt && r.startAt <= r.createdAt + 30)).toBe(true);
        expect(((await c.getRun(r.runId).result({ timeout: '20s' })) as { scheduledAt: number }).scheduledAt).toBe(slot);
      }
      const all = await runsOf(c, 'suite.stamped', buffered);
      expect(all.length).toBeGreaterThanOrEqual(2);
      for (const r of all) await c.getRun(r.runId).result({ timeout: '20s' });
      const spans = await Promise.all(all.map(async (r) => { const e = await c.getRun(r.runId).events(); return { start: e[0].at, end: e.at(-1)!.at }; }));
      for (let i = 1; i < spans.length; i++) expect(spans[i].start).toBeGreaterThanOrEqual(spans[i - 1].end);
      // Held-back slots are kept (buffer_all), and the statistics drop runs once they finish.
      await c.schedules.resume(buffered);
      await waitFor(async () => ((await c.schedules.get(buffered))!.stats!.running.length <= 1), 10_000);
      await c.schedules.delete(buffered);
      await c.schedules.delete(ended);
    });

    it('activates a schedule declared on a workflow once, however many workers start', async () => {
      // Four workers (two clients each, as separate processes would be) start at the same moment.
      const c1 = await client();
      const c2 = await client();
      const options = { scheduleInterval: '30ms' as const, workflows: [...W.allWorkflows, W.declaredJob] };
      await Promise.all([worker(c1, options), worker(c2, options), worker(c1, options), worker(c2, options)]);
      const declared = (await c1.schedules.list()).filter((s) => s.scheduleId === 'workflow:suite.declared');
      expect(declared).toHaveLength(1);
      expect(declared[0].history!.map((h) => h.action)).toEqual(['created']);
      await waitFor(async () => (await runsOf(c1, 'suite.declared', 'workflow:suite.declared')).length >= 2, 10_000);
      await c1.schedules.delete('workflow:suite.declared');
    });

    it('turns calendar fields into slots in the time zone', async () => {
      const c = await client();
      const id = `cal-${crypto.randomUUID().slice(0, 8)}`;
      const record = await c.schedules.create(id, W.stampedJob, { calendar: { dayOfWeek: [2, 4], hour: 18, minute: 30 }, timezone: 'America/New_York', args: [0] });
      const local = new Date(record.nextFireAt!).toLocaleString('en-US', { timeZone: 'America/New_York', weekday: 'long', hour: '2-digit', minute: '2-digit', hour12: false });
      expect(['Tuesday 18:30', 'Thursday 18:30']).toContain(local);
      await expect(c.schedules.create(`${id}-bad`, W.stampedJob, { calendar: { hour: 25 } })).rejects.toThrow(/calendar.hour/);
      await c.schedules.delete(id);
    });

    it('runs every step as a broker task in dispatch mode', async () => {
      const { c } = await setup({ stepMode: 'dispatch' });
      const run = await c.start(W.onboarding, 'user_d', 20);
      expect((await run.result({ timeout: '20s' })).done).toBe('Onboarding complete');
      const events = await run.events();
      expect(types(events).filter((t) => t === 'step_scheduled')).toHaveLength(2);
      expect(W.countOf(`${run.runId}:welcome`)).toBe(1);
      const par = await c.start(W.parallel, 5);
      expect(await par.result({ timeout: '20s' })).toEqual([0, 1, 4, 9, 16]);
    });

    it('routes a step with a queue to the workers that listen on it', async () => {
      const { c } = await setup();
      const emailClient = await client();
      await worker(emailClient, { queues: ['suite-email'] });
      const run = await c.start(W.routedWf, 'ana@example.com');
      const result = (await run.result({ timeout: '20s' })) as { a: string; b: string };
      expect(result.a).toBe('before');
      expect(result.b).toContain('sent to ana@example.com');
      const scheduled = (await run.events()).find((e) => e.type === 'step_scheduled') as Extract<DurablyEvent, { type: 'step_scheduled' }>;
      expect(scheduled.data).toMatchObject({ name: 'suite.email-on-queue', queue: 'suite-email' });
      expect(W.countOf(`${run.runId}:email-queue`)).toBe(1);
    });

    it('records each step once when two workers race over the same runs and tasks are duplicated', async () => {
      const c1 = await client();
      const c2 = await client();
      await worker(c1);
      await worker(c2);
      const runs = await Promise.all(Array.from({ length: 20 }, () => c1.start(W.threeSteps)));
      // Duplicate every run task: both workers may pick the same run at once.
      for (const r of runs) await c2.broker.publish('durably.default', JSON.stringify({ v: 1, kind: 'run', runId: r.runId, reason: 'recover' }));
      for (const r of runs) expect(await r.result({ timeout: '30s' })).toBe('abc');
      for (const r of runs) {
        const completed = (await r.events()).filter((e) => e.type === 'step_completed') as Extract<DurablyEvent, { type: 'step_completed' }>[];
        expect(completed.map((e) => e.data.result).length).toBe(3);
        expect(new Set(completed.map((e) => e.correlationId)).size).toBe(3);
      }
    });

    it('wakes a sleeping run from the timer in storage when its wake-up message is lost', async () => {
      const dropDelayed = (b: Broker): Broker => wrapBroker(b, (_q, _body, options) => (options?.delayMs ?? 0) > 0);
      const c = await client(dropDelayed);
      // No local fast path: the wake-up goes through the (lossy) broker.
      await worker(c, { localTimerWindow: 0 });
      const run = await c.start(W.sleeper, 100);
      expect(await run.result({ timeout: '20s' })).toBe('woke');
    });

    it('fires a short timer in the worker that wrote it, and a stopping worker hands its timers to the broker', async () => {
      const c = await client();
      const first = await worker(c);
      const quick = await c.start(W.sleeper, 50);
      expect(await quick.result({ timeout: '20s' })).toBe('woke');
      const run = await c.start(W.sleeper, 700);
      await waitFor(async () => (await run.status()) === 'suspended', 10_000);
      await first.stop();
      // The second worker never sweeps storage for timers: only the handed-back message can wake the run.
      await worker(c, { timerSweepInterval: '1h' });
      expect(await run.result({ timeout: '20s' })).toBe('woke');
      const events = await run.events();
      const started = events.find((e) => e.type === 'sleep_started') as { data: { wakeAt: number } };
      const woke = events.find((e) => e.type === 'sleep_completed')!;
      expect(woke.at - started.data.wakeAt).toBeLessThan(1500);
    });

    it('resumes a run whose start message was lost, through the recovery sweep', async () => {
      const dropAll = (b: Broker): Broker => wrapBroker(b, () => true);
      const lossy = await client(dropAll);
      const run = await lossy.start(W.threeSteps);
      expect(await run.status()).toBe('pending');
      const { c } = await setup();
      expect(await c.getRun(run.runId).result({ timeout: '20s' })).toBe('abc');
    });

    startTests({ setup });
  });
}

/** A broker that silently drops the publishes `drop` selects (a lost message), and passes the rest. */
export function wrapBroker(inner: Broker, drop: (queue: string, body: string, options?: PublishOptions) => boolean): Broker {
  return {
    get maxDelayMs() {
      return inner.maxDelayMs;
    },
    migrate: () => inner.migrate(),
    publish: async (queue, body, options) => {
      if (drop(queue, body, options)) return;
      await inner.publish(queue, body, options);
    },
    consume: (queue, handler, options) => inner.consume(queue, handler, options),
    deadLetters: (queue, limit) => inner.deadLetters(queue, limit),
    close: () => inner.close(),
  };
}
