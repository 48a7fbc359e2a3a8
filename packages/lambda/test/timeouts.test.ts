import { LocalDurableTestRunner, WaitingOperationStatus } from '@aws/durable-execution-sdk-js-testing';
import { defineHook, FatalError, step, workflow } from '@durably/core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { rejectHook } from '../src/index.js';
import { calls, count, notifyApprover, tokens } from './fixtures.js';
import { localCallbacks } from './local-callbacks.js';
import { onEmbedded, onLambda } from './run.js';

// Real time in this file (no skipping): the attempt timeout races a real timer in the function.
let embedded: unknown;
beforeAll(async () => {
  embedded = await onEmbedded(slow, ['embedded-slow']);
  await LocalDurableTestRunner.setupTestEnvironment({ skipTime: false });
}, 60_000);
afterAll(() => LocalDurableTestRunner.teardownTestEnvironment());

const hangs = step(
  'hangs',
  async (key: string) => {
    count(key);
    await new Promise(() => undefined);
  },
  { timeout: '200ms', retries: 1, backoff: { initial: '1s', jitter: false } },
);
const slow = workflow('lambda-slow', async (key: string) => {
  try {
    await hangs(key);
    return 'finished';
  } catch (error) {
    const cause = (error as Error).cause as Error;
    return { error: (error as Error).name, attempts: (error as { attempts?: number }).attempts, cause: cause.name };
  }
});

it('times out each attempt after the step timeout and retries it, as a worker does', async () => {
  const result = await onLambda(slow, ['lambda-slow']).execution;
  expect(result.getStatus()).toBe('SUCCEEDED');
  expect(result.getResult()).toEqual({ error: 'StepFailedError', attempts: 2, cause: 'StepTimeoutError' });
  expect(result.getResult()).toEqual(embedded);
  expect(calls.get('lambda-slow')).toBe(2);
});

const decision = defineHook<string>('lambda-decision');
const waiting = workflow('lambda-waiting', async (key: string, timeout: string) => {
  const hook = decision.create({ timeout: timeout as '1s' });
  await notifyApprover(key, hook.token);
  try {
    return await hook;
  } catch (error) {
    return { error: (error as Error).name, message: (error as Error).message, fatal: error instanceof FatalError };
  }
});

it('rejects `await hook` with HookTimeoutError when nobody resumes it in time', async () => {
  const result = await onLambda(waiting, ['lambda-timeout', '1s']).execution;
  expect(result.getStatus()).toBe('SUCCEEDED');
  expect(result.getResult()).toMatchObject({ error: 'HookTimeoutError', message: expect.stringContaining('Hook "lambda-decision" was not resumed within 1000 ms') });
});

it('rejects `await hook` with the error rejectHook sent, class included', async () => {
  const { runner, execution } = onLambda(waiting, ['lambda-rejected', '1h']);
  await runner.getOperation('notify-approver').waitForData(WaitingOperationStatus.COMPLETED);
  await rejectHook(tokens.get('lambda-rejected')!, new FatalError('expense withdrawn'), { client: localCallbacks(runner, 'hook:lambda-decision#1') });
  const result = await execution;
  expect(result.getResult()).toEqual({ error: 'FatalError', message: 'expense withdrawn', fatal: true });
});
