import { LocalDurableTestRunner } from '@aws/durable-execution-sdk-js-testing';
import { createTestEnv } from '@durably/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { handler } from '../src/lambda.js';
import { onboarding } from '../src/workflows.js';

// Time skipping fakes Date and timers for the whole process: the embedded run goes first, and this
// file (its own vitest worker) has the local runner to itself.
let embedded: unknown;
beforeAll(async () => {
  const env = await createTestEnv({ workflows: [onboarding] });
  try {
    const run = await env.start(onboarding, 'ana', '1d');
    await env.advanceTime('1d');
    embedded = await run.result({ timeout: '20s' });
  } finally {
    await env.close();
  }
  await LocalDurableTestRunner.setupTestEnvironment({ skipTime: true });
}, 60_000);
afterAll(() => LocalDurableTestRunner.teardownTestEnvironment());

it('runs the onboarding sample as a Lambda durable function on the SDK local runner, its 1-day sleep skipped', async () => {
  const runner = new LocalDurableTestRunner({ handlerFunction: handler });
  const execution = await runner.run({ payload: ['ana', '1d'] });
  expect(execution.getStatus()).toBe('SUCCEEDED');
  expect(execution.getResult()).toBe('Onboarding complete');
  expect(execution.getResult()).toBe(embedded);
  expect(execution.getOperations().map((op) => [op.getName(), op.getStatus()])).toEqual([
    ['send-welcome-email', 'SUCCEEDED'],
    ['sleep', 'SUCCEEDED'],
    ['send-tips-email', 'SUCCEEDED'],
  ]);
  expect(runner.getOperation('sleep').getWaitDetails()?.waitSeconds).toBe(86_400);
  // Each step ran once (its result was replayed after the sleep, not recomputed).
  expect(runner.getOperation('send-welcome-email').getStepDetails()).toMatchObject({ attempt: 1 });
  expect(runner.getOperation('send-tips-email').getStepDetails()).toMatchObject({ attempt: 1 });
  expect(execution.getInvocations().length).toBe(2);
});
