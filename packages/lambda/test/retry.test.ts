import { StepError } from '@aws/durable-execution-sdk-js';
import { FatalError, RetryableError, runtimeKit } from '@durably/core';
import { expect, it } from 'vitest';
import { errorData } from '../src/codec.js';
import { retryStrategy } from '../src/retry.js';

/** The error the runtime throws to the SDK for a failed attempt (what the SDK hands retryStrategy). */
const thrown = (error: Error, attempt: number) => new StepError(error.message, undefined, errorData(error, attempt));
const policy = runtimeKit.resolveRetryPolicy({ retries: 4, backoff: { initial: '2s', factor: 3, max: '1m', jitter: false } }, runtimeKit.DEFAULT_RETRY, 'test');

it("turns Durably's backoff into the SDK's retry decisions, in whole seconds", () => {
  const decide = retryStrategy(policy);
  expect([1, 2, 3, 4].map((attempt) => decide(thrown(new Error('busy'), attempt), attempt))).toEqual([
    { shouldRetry: true, delay: { seconds: 2 } },
    { shouldRetry: true, delay: { seconds: 6 } },
    { shouldRetry: true, delay: { seconds: 18 } },
    { shouldRetry: true, delay: { seconds: 54 } },
  ]);
  // retries: 4 means five attempts in all.
  expect(decide(thrown(new Error('busy'), 5), 5)).toEqual({ shouldRetry: false });
});

it('stops at a FatalError, waits for RetryableError.retryAfter, and rounds sub-second delays up to 1 s', () => {
  const decide = retryStrategy(policy);
  expect(decide(thrown(new FatalError('declined'), 1), 1)).toEqual({ shouldRetry: false });
  expect(decide(thrown(new RetryableError('busy', { retryAfter: '90s' }), 1), 1)).toEqual({ shouldRetry: true, delay: { seconds: 90 } });
  expect(decide(thrown(new RetryableError('busy', { retryAfter: '10ms' }), 1), 1)).toEqual({ shouldRetry: true, delay: { seconds: 1 } });
});
