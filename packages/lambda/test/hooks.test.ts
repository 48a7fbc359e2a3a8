import { LocalDurableTestRunner, WaitingOperationStatus } from '@aws/durable-execution-sdk-js-testing';
import { defineHook, HookPayloadInvalidError } from '@durably/core';
import { createTestEnv } from '@durably/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { PENDING_TOKEN, resumeHook } from '../src/index.js';
import { approval, calls, expense, tokens } from './fixtures.js';
import { asJson, onLambda } from './run.js';
import { localCallbacks } from './local-callbacks.js';

const decision = { approved: true, by: 'ana', at: new Date(Date.UTC(2026, 11, 1, 9)) };
let embedded: unknown;
beforeAll(async () => {
  const env = await createTestEnv({ workflows: [expense] });
  try {
    const run = await env.start(expense, 'embedded-expense');
    await env.settle();
    await env.client.resumeHook(tokens.get('embedded-expense')!, decision);
    embedded = asJson(await run.result({ timeout: '20s' }));
  } finally {
    await env.close();
  }
  await LocalDurableTestRunner.setupTestEnvironment({ skipTime: true });
}, 60_000);
afterAll(() => LocalDurableTestRunner.teardownTestEnvironment());

it('suspends at a hook whose token is the callback id, and resumes when resumeHook sends the callback', async () => {
  const { runner, execution } = onLambda(expense, ['lambda-expense']);
  const callback = runner.getOperation('hook:lambda-approval#1');
  // STARTED: the callback exists and has its id (SUBMITTED would mean it was already completed).
  await callback.waitForData(WaitingOperationStatus.STARTED);
  await runner.getOperation('notify-approver').waitForData(WaitingOperationStatus.COMPLETED);
  const token = tokens.get('lambda-expense')!;
  expect(token).not.toBe(PENDING_TOKEN);
  expect(token).toBe(callback.getCallbackDetails()?.callbackId);

  const sender = localCallbacks(runner, 'hook:lambda-approval#1');
  await resumeHook(token, decision, { client: sender, hook: approval });
  const result = await execution;
  expect(result.getStatus()).toBe('SUCCEEDED');
  expect(sender.sent).toBe(1);
  expect(result.getResult()).toEqual(embedded);
  expect(result.getResult()).toEqual({ approved: true, by: 'ana', atIsDate: true, recorded: 'approved' });
  // The step that sent the token ran once, with the real token (never the placeholder).
  expect(calls.get('lambda-expense:notify')).toBe(1);
  expect(calls.get('lambda-expense:record')).toBe(1);
  expect(calls.get('embedded-expense:notify')).toBe(1);
  expect(result.getOperations().map((op) => op.getName())).toEqual([
    'hook:lambda-approval#1',
    'hook:lambda-approval#1:token',
    'hook:lambda-approval#1:ready',
    'notify-approver',
    'record-decision',
  ]);
});

it('refuses a payload that does not match the hook schema before sending anything', async () => {
  const checked = defineHook<{ amount: number }>('lambda-checked', {
    schema: {
      safeParse: (value: unknown) =>
        typeof (value as { amount?: unknown })?.amount === 'number' ? { success: true as const, data: value as { amount: number } } : { success: false as const, error: 'amount must be a number' },
    },
  });
  const sent: unknown[] = [];
  const client = { send: async (command: unknown) => void sent.push(command) };
  await expect(resumeHook('callback-id', { amount: 'ten' } as never, { client, hook: checked })).rejects.toThrow(HookPayloadInvalidError);
  expect(sent).toEqual([]);
  await expect(resumeHook('', { amount: 1 }, { client })).rejects.toThrow(/the token must be the hook's token/);
});
