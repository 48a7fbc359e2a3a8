import type { RetryDecision } from '@aws/durable-execution-sdk-js';
import { RetryableError, runtimeKit, type RetryPolicy } from '@durably/core';
import { durablyError } from './codec.js';

/** The SDK counts retry delays in whole seconds (NextAttemptDelaySeconds); shorter ones round up. */
export function toSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}

/**
 * A Durably retry policy as the SDK's retryStrategy: FatalError (and the other never-retried
 * errors) stop at once, attempts stop at `retries + 1`, RetryableError's retryAfter wins over the
 * backoff, and the backoff (initial, factor, max, jitter) is Durably's own. `attempt` is the
 * 1-based attempt that just failed, as the SDK passes it.
 */
export function retryStrategy(policy: RetryPolicy): (error: Error, attempt: number) => RetryDecision {
  return (error, attempt) => {
    const cause = durablyError(error);
    if (runtimeKit.isFatal(cause) || attempt >= policy.maxAttempts) return { shouldRetry: false };
    const ms = cause instanceof RetryableError && cause.retryAfterMs !== undefined ? cause.retryAfterMs : runtimeKit.backoffDelay(policy, attempt);
    return { shouldRetry: true, delay: { seconds: toSeconds(ms) } };
  };
}
