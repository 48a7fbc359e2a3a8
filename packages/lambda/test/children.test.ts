import { LocalDurableTestRunner, WaitingOperationStatus } from '@aws/durable-execution-sdk-js-testing';
import { continueAsNew, defineHook, step, waitForSignal, workflow } from '@durably/core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { durableHandler, resumeHook, ServerlessUnsupportedError } from '../src/index.js';
import { calls, childWork, deployed, family, seen, tokens, versioned } from './fixtures.js';
import { localCallbacks } from './local-callbacks.js';
import { onEmbedded, onLambda } from './run.js';

let embedded: unknown;
beforeAll(async () => {
  embedded = await onEmbedded(family, ['embedded-family'], { also: [childWork] });
  seen.length = 0;
  await LocalDurableTestRunner.setupTestEnvironment({ skipTime: true });
}, 60_000);
afterAll(() => LocalDurableTestRunner.teardownTestEnvironment());

it('runs child workflows in child contexts, with recorded context values that every replay returns unchanged', async () => {
  const { runner, execution } = onLambda(family, ['lambda-family']);
  const result = await execution;
  expect(result.getStatus()).toBe('SUCCEEDED');
  const outcome = result.getResult() as { values: { uuid: string; random: number; start: number }; childRunIds: string[]; runId: string };
  const { values: _v, childRunIds: _c, runId: _r, ...rest } = outcome;
  const { values: _ev, childRunIds: _ec, runId: _er, ...embeddedRest } = embedded as typeof outcome;
  expect(rest).toEqual(embeddedRest);
  expect(rest).toEqual({ first: 20, second: 40, afterChildren: true, patchedNow: true });
  expect(outcome.values.uuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  expect(outcome.values.random).toBeGreaterThanOrEqual(0);
  expect(outcome.values.random).toBeLessThan(1);
  expect(outcome.childRunIds).toEqual([`${outcome.runId}/child:lambda-child#1`, `${outcome.runId}/child:lambda-child#2`]);
  // Each child's step ran once although the execution was replayed after each child's sleep.
  expect(calls.get('lambda-family:10')).toBe(1);
  expect(calls.get('lambda-family:20')).toBe(1);
  // The body ran once per invocation; every run saw the same uuid, random and now.
  expect(result.getInvocations().length).toBeGreaterThanOrEqual(2);
  expect(seen.length).toBe(result.getInvocations().length);
  for (const values of seen) expect(values).toEqual(outcome.values);
  const child = runner.getOperation('child:lambda-child#1');
  expect(child.getChildOperations()?.map((op) => op.getName())).toEqual(['double', 'sleep']);
});

it('patched() is false in a run recorded past the patch by code without it, and true at its frontier and in new runs', async () => {
  deployed.version = 1;
  const { runner, execution } = onLambda(versioned, ['lambda-v1']);
  await runner.getOperation('notify-approver').waitForData(WaitingOperationStatus.COMPLETED);
  await resumeHook(tokens.get('lambda-v1')!, 'go', { client: localCallbacks(runner, 'hook:lambda-version-hook#1') });
  await runner.getOperationByNameAndIndex('notify-approver', 1).waitForData(WaitingOperationStatus.COMPLETED);
  // A deploy while the run waits for its second hook: the replay runs version 2 against version 1's history.
  deployed.version = 2;
  await resumeHook(tokens.get('lambda-v1:second')!, 'more', { client: localCallbacks(runner, 'hook:lambda-version-hook#2') });
  const old = await execution;
  expect(old.getStatus()).toBe('SUCCEEDED');
  expect(old.getResult()).toEqual({ note: 'go', more: 'more', path: 'old path', fresh: true });
  const names = old.getOperations().map((op) => op.getName());
  expect(names).not.toContain('patch:extra-step');
  expect(names).toContain('patch:fresh-patch');
  expect(calls.get('lambda-v1:100')).toBeUndefined();

  const next = onLambda(versioned, ['lambda-v2']);
  await next.runner.getOperation('notify-approver').waitForData(WaitingOperationStatus.COMPLETED);
  await resumeHook(tokens.get('lambda-v2')!, 'go', { client: localCallbacks(next.runner, 'hook:lambda-version-hook#1') });
  await next.runner.getOperationByNameAndIndex('notify-approver', 1).waitForData(WaitingOperationStatus.COMPLETED);
  await resumeHook(tokens.get('lambda-v2:second')!, 'more', { client: localCallbacks(next.runner, 'hook:lambda-version-hook#2') });
  const fresh = await next.execution;
  expect(fresh.getResult()).toEqual({ note: 'go', more: 'more', path: 200, fresh: true });
  expect(calls.get('lambda-v2:100')).toBe(1);
});

it('refuses workflow options that serverless mode cannot honour when the handler is made, saying what to do instead', () => {
  const limited = workflow('lambda-limited', async () => 1, { concurrency: { limit: 1 } });
  expect(() => durableHandler(limited)).toThrow(ServerlessUnsupportedError);
  expect(() => durableHandler(limited)).toThrow(/"concurrency" is not available in serverless mode .*reserved concurrency/);
  const scheduled = workflow('lambda-scheduled', async () => 1, { schedule: { every: '1h' } });
  expect(() => durableHandler(scheduled)).toThrow(/EventBridge Scheduler/);
  const bounded = workflow('lambda-bounded', async () => 1, { maxDuration: '1h' });
  expect(() => durableHandler(bounded)).toThrow(/ExecutionTimeout/);
  const transient = workflow('lambda-transient', async () => 1, { durable: false });
  expect(() => durableHandler(transient)).toThrow(/durable: false/);
  expect(() => durableHandler((async () => 1) as never)).toThrow(/must be a workflow/);
});

it('fails the execution with ServerlessUnsupportedError for a call that has no counterpart (signals, continueAsNew, rate limits, totalTimeout, multi-use hooks)', async () => {
  const signalled = workflow('lambda-signalled', async () => waitForSignal<string>('note'));
  const feed = defineHook<string>('lambda-feed');
  const fed = workflow('lambda-fed', async () => feed.create({ multiUse: true }).next());
  const looping = workflow('lambda-looping', async (n: number) => (n > 0 ? continueAsNew(n - 1) : 'done'));
  const limitedStep = step('lambda-rate-limited', async () => 1, { rateLimit: { limit: 1, period: '1s' } });
  const rated = workflow('lambda-rated', async () => limitedStep());
  const boundedStep = step('lambda-total-timeout', async () => 1, { totalTimeout: '1m' });
  const totalled = workflow('lambda-totalled', async () => boundedStep());
  for (const [wf, args, message] of [
    [signalled, [], /waitForSignal\(\) is not available in serverless mode.*Use a hook/],
    [looping, [1], /continueAsNew\(\) is not available in serverless mode/],
    [rated, [], /step\("lambda-rate-limited"\) with rateLimit is not available/],
    [totalled, [], /step\("lambda-total-timeout"\) with totalTimeout is not available/],
    [fed, [], /lambda-feed\.create\(\{ multiUse: true \}\) is not available in serverless mode/],
  ] as const) {
    const result = await onLambda(wf as never, args as never).execution;
    expect(result.getStatus()).toBe('FAILED');
    expect(result.getError().errorType).toBe('ServerlessUnsupportedError');
    expect(result.getError().errorMessage).toMatch(message);
  }
});
