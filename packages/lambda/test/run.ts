import { LocalDurableTestRunner, type TestResult } from '@aws/durable-execution-sdk-js-testing';
import type { Workflow } from '@durably/core';
import { createTestEnv } from '@durably/testing';
import { durableHandler } from '../src/index.js';

/**
 * Runs a workflow on the embedded engine (createTestEnv: in-memory backends, virtual clock) and
 * returns its result as JSON, the form a Lambda durable execution returns its result in.
 */
export async function onEmbedded<A extends unknown[], R>(wf: Workflow<A, R>, args: A, options: { advance?: string; also?: Workflow<any[], any>[] } = {}): Promise<unknown> {
  const env = await createTestEnv({ workflows: [wf, ...(options.also ?? [])] });
  try {
    const run = await env.start(wf, ...args);
    await env.advanceTime(options.advance ?? '10s');
    return asJson(await run.result({ timeout: '20s' }));
  } finally {
    await env.close();
  }
}

export function asJson(value: unknown): unknown {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
}

/** Runs the workflow's durableHandler on the SDK's local runner (no network, no Docker). */
export function onLambda<A extends unknown[], R>(wf: Workflow<A, R>, args: A): { runner: LocalDurableTestRunner; execution: Promise<TestResult<unknown>> } {
  const runner = new LocalDurableTestRunner({ handlerFunction: durableHandler(wf) });
  return { runner, execution: runner.run({ payload: args }) };
}
