import { expect, it } from 'vitest';
import { StepFailedError, WorkflowFailedError, type DurablyEvent } from '@durably/core';
import type { SuiteContext } from './context.js';
import { types } from './helpers.js';
import * as W from './workflows.js';

/**
 * Engine suite, steps and retries: backoff, exhausted attempts, fatal errors, retryAfter, per-attempt
 * timeouts, argument schemas, checkpoints, dispatch mode and queues.
 */
export function stepTests(suite: SuiteContext): void {
  const { client, worker, setup } = suite;

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

  it('resumes a step from its checkpoint on the next attempt and deletes the checkpoint when the step completes', async () => {
    const { c } = await setup();
    const run = await c.start(W.checkpointWf, 6, 3);
    expect(await run.result({ timeout: '20s' })).toBe(6);
    expect(W.processed.get(run.runId)).toEqual([1, 2, 3, 4, 5, 6]); // nothing done twice
    const stepId = (await run.events()).find((e) => e.type === 'step_completed')!.correlationId!;
    expect(await c.storage.getCheckpoint(run.runId, stepId)).toBeUndefined();
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
}
