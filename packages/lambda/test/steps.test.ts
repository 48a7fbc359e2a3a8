import { LocalDurableTestRunner } from '@aws/durable-execution-sdk-js-testing';
import { beforeAll, afterAll, expect, it } from 'vitest';
import { calls, fatal, parallel, retrying } from './fixtures.js';
import { onEmbedded, onLambda } from './run.js';

// The runner's time skipping fakes Date and timers for the whole process: the embedded runs go
// first, on real timers, and this file has the runner to itself.
const embedded: Record<string, unknown> = {};
beforeAll(async () => {
  embedded.retrying = await onEmbedded(retrying, ['embedded-retry', 2]);
  embedded.fatal = await onEmbedded(fatal, ['embedded-fatal']);
  embedded.parallel = await onEmbedded(parallel, ['embedded-parallel']);
  await LocalDurableTestRunner.setupTestEnvironment({ skipTime: true });
}, 60_000);
afterAll(() => LocalDurableTestRunner.teardownTestEnvironment());

it('retries a step that fails twice with its retry policy, runs its body once per attempt, and returns what the embedded engine returns', async () => {
  const { runner, execution } = onLambda(retrying, ['lambda-retry', 2]);
  const result = await execution;
  expect(result.getStatus()).toBe('SUCCEEDED');
  expect(calls.get('lambda-retry')).toBe(3);
  expect(calls.get('embedded-retry')).toBe(3);
  const outcome = result.getResult() as { receipt: { charged: string } };
  expect(outcome).toEqual({ ...(embedded.retrying as object), receipt: { ...(embedded.retrying as { receipt: object }).receipt, charged: 'lambda-retry' } });
  expect(outcome).toMatchObject({ receipt: { attempt: 3 }, atIsDate: true });
  const op = runner.getOperation('flaky-charge');
  expect(op.getStepDetails()?.attempt).toBe(3);
});

it('stops at a FatalError after one attempt; the workflow catches a StepFailedError whose cause is the FatalError', async () => {
  const { execution } = onLambda(fatal, ['lambda-fatal']);
  const result = await execution;
  expect(result.getStatus()).toBe('SUCCEEDED');
  expect(calls.get('lambda-fatal')).toBe(1);
  expect(calls.get('embedded-fatal')).toBe(1);
  const expected = { error: 'StepFailedError', cause: 'FatalError', fatal: true, message: 'card declined for lambda-fatal' };
  expect(result.getResult()).toEqual(expected);
  expect(embedded.fatal).toEqual({ ...expected, message: 'card declined for embedded-fatal' });
});

it('runs steps in parallel with Promise.all, each body once, in the order of the calls', async () => {
  const { execution } = onLambda(parallel, ['lambda-parallel']);
  const result = await execution;
  expect(result.getStatus()).toBe('SUCCEEDED');
  expect(result.getResult()).toEqual(embedded.parallel);
  expect(result.getResult()).toEqual({ values: [2, 4, 6], first: 8 });
  for (const n of [1, 2, 3, 4]) {
    expect(calls.get(`lambda-parallel:${n}`)).toBe(1);
    expect(calls.get(`embedded-parallel:${n}`)).toBe(1);
  }
  expect(result.getOperations().map((op) => op.getName())).toEqual(['double', 'double', 'double', 'double']);
});
