import { parseDuration, type Duration, FatalError, InvalidArgumentError, RetryableError, SerializationError } from '@durably/contracts';

/**
 * How the delay between a step's attempts grows: `initial`, then times `factor` per attempt, at most
 * `max`, each randomized when `jitter` is on. Durations are ms or strings such as `'500ms'`, `'30s'`.
 */
export interface BackoffOptions {
  /** Delay before the second attempt. Default 1s. */
  initial?: Duration;
  /** Multiplier per further attempt (1 = fixed delay). Default 2. */
  factor?: number;
  /** Upper bound of one delay. Default 5m. */
  max?: Duration;
  /** Randomize each delay in [delay/2, delay] so retries of many runs spread out. Default true. */
  jitter?: boolean;
}

/**
 * How a step is retried after it throws (FatalError and schema failures are never retried): how many
 * more attempts, with what delays, and how long one attempt may take. Set on a step, or on a workflow
 * as the default of its steps. Invalid values throw `InvalidArgumentError` when the step is defined.
 *
 * @example
 * ```ts
 * import { step } from '@durably/core';
 *
 * const charge = step('charge', async (orderId: string) => ({ orderId, ok: true }), {
 *   retries: 5,
 *   backoff: { initial: '500ms', factor: 2, max: '30s' },
 *   timeout: '10s',
 * });
 * ```
 */
export interface RetryOptions {
  /** Attempts after the first. Default 3. */
  retries?: number;
  /** Delays between attempts (default: 1 s doubling, at most 5 min, with jitter). */
  backoff?: BackoffOptions;
  /** Limit on one attempt; a slower attempt fails with StepTimeoutError and is retried. */
  timeout?: Duration;
}

/** A retry policy with every field resolved to numbers. */
export interface RetryPolicy {
  maxAttempts: number;
  initialMs: number;
  factor: number;
  maxMs: number;
  jitter: boolean;
  timeoutMs?: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 4, initialMs: 1000, factor: 2, maxMs: 300_000, jitter: true };

export function resolveRetryPolicy(options: RetryOptions | undefined, base: RetryPolicy, owner: string): RetryPolicy {
  if (!options) return base;
  const retries = options.retries ?? base.maxAttempts - 1;
  if (!Number.isInteger(retries) || retries < 0) {
    throw new InvalidArgumentError(`${owner}: "retries" must be a whole number >= 0 (attempts after the first), got ${JSON.stringify(options.retries)}.`);
  }
  const b = options.backoff ?? {};
  const factor = b.factor ?? base.factor;
  if (typeof factor !== 'number' || !(factor >= 1)) {
    throw new InvalidArgumentError(`${owner}: "backoff.factor" must be a number >= 1, got ${JSON.stringify(b.factor)}.`);
  }
  const policy: RetryPolicy = {
    maxAttempts: retries + 1,
    initialMs: b.initial === undefined ? base.initialMs : parseDuration(b.initial, `${owner}: backoff.initial`),
    factor,
    maxMs: b.max === undefined ? base.maxMs : parseDuration(b.max, `${owner}: backoff.max`),
    jitter: b.jitter ?? base.jitter,
  };
  const timeout = options.timeout === undefined ? base.timeoutMs : parseDuration(options.timeout, `${owner}: timeout`);
  if (timeout !== undefined) {
    if (timeout <= 0) throw new InvalidArgumentError(`${owner}: "timeout" must be greater than 0.`);
    policy.timeoutMs = timeout;
  }
  return policy;
}

/** Delay before attempt `attempt + 1`, after `attempt` (1-based) failed. */
export function backoffDelay(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const raw = Math.min(policy.maxMs, policy.initialMs * Math.pow(policy.factor, attempt - 1));
  return policy.jitter ? Math.round(raw / 2 + (random() * raw) / 2) : raw;
}

/**
 * Error codes never retried, besides FatalError and SerializationError instances: a wrong argument,
 * a payload over the limit, arguments that fail the step's schema. Modules that define errors of
 * their own add theirs with declareFatal (streams do), and an error can carry `fatal: true` itself.
 */
const FATAL_CODES = new Set<string>(['FATAL', 'SERIALIZATION', 'INVALID_ARGUMENT', 'PAYLOAD_TOO_LARGE', 'ARGUMENT_VALIDATION']);

/** Declares errors with these codes fatal: a step attempt that throws one is not retried. */
export function declareFatal(...codes: string[]): void {
  for (const code of codes) FATAL_CODES.add(code);
}

/** True when an attempt that threw `error` must not be retried, whatever its retry policy. */
export function isFatal(error: unknown): boolean {
  if (error instanceof FatalError || error instanceof SerializationError) return true;
  const e = error as { code?: unknown; fatal?: unknown } | undefined;
  return e?.fatal === true || (typeof e?.code === 'string' && FATAL_CODES.has(e.code));
}

/** What follows a failed attempt: the step fails, or it is tried again after `delayMs`. */
export type RetryDecision = { retry: false } | { retry: true; delayMs: number };

/**
 * The one retry rule, applied by the replay loop, the dispatched-step runner and transient mode: a
 * fatal error or a last attempt fails the step; otherwise the next attempt waits for the error's own
 * `retryAfter` (RetryableError) or the policy's backoff. `attempt` is the failed attempt (1-based).
 */
export function decideRetry(error: unknown, attempt: number, policy: RetryPolicy): RetryDecision {
  if (isFatal(error) || attempt >= policy.maxAttempts) return { retry: false };
  const delayMs = error instanceof RetryableError && error.retryAfterMs !== undefined ? error.retryAfterMs : backoffDelay(policy, attempt);
  return { retry: true, delayMs };
}
