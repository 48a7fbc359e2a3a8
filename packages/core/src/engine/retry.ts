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
  /** Attempts after the first. Default 3. `Infinity`: retried until it succeeds (or `totalTimeout`), each delay capped by `backoff.max`. */
  retries?: number;
  /** Delays between attempts (default: 1 s doubling, at most 5 min, with jitter). */
  backoff?: BackoffOptions;
  /** Limit on one attempt; a slower attempt fails with StepTimeoutError and is retried. */
  timeout?: Duration;
  /**
   * Step option: an attempt that goes this long without calling `context().heartbeat()` fails with
   * StepHeartbeatTimeoutError (its signal is aborted) and is retried, so a hung step does not wait for its whole `timeout`.
   */
  heartbeatTimeout?: Duration;
  /** Limit across all attempts, from the first attempt's start: no attempt runs past it, and no retry starts after it. */
  totalTimeout?: Duration;
}

/** A retry policy with every field resolved to numbers. */
export interface RetryPolicy {
  maxAttempts: number;
  initialMs: number;
  factor: number;
  maxMs: number;
  jitter: boolean;
  timeoutMs?: number;
  heartbeatTimeoutMs?: number;
  totalTimeoutMs?: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 4, initialMs: 1000, factor: 2, maxMs: 300_000, jitter: true };

export function resolveRetryPolicy(options: RetryOptions | undefined, base: RetryPolicy, owner: string): RetryPolicy {
  if (!options) return base;
  const retries = options.retries ?? base.maxAttempts - 1;
  if (!(retries === Infinity || (Number.isInteger(retries) && retries >= 0))) {
    throw new InvalidArgumentError(`${owner}: "retries" must be a whole number >= 0 (attempts after the first) or Infinity, got ${JSON.stringify(options.retries)}.`);
  }
  const b = options.backoff ?? {};
  const factor = b.factor ?? base.factor;
  if (typeof factor !== 'number' || !(factor >= 1) || !Number.isFinite(factor)) {
    throw new InvalidArgumentError(`${owner}: "backoff.factor" must be a finite number >= 1, got ${JSON.stringify(b.factor)}.`);
  }
  const policy: RetryPolicy = {
    maxAttempts: retries + 1,
    initialMs: b.initial === undefined ? base.initialMs : parseDuration(b.initial, `${owner}: backoff.initial`),
    factor,
    maxMs: b.max === undefined ? base.maxMs : parseDuration(b.max, `${owner}: backoff.max`),
    jitter: b.jitter ?? base.jitter,
  };
  // Unlimited attempts with no delay between them would spin: both ends of the backoff must be > 0.
  if (retries === Infinity && !(policy.initialMs > 0 && policy.maxMs > 0)) {
    throw new InvalidArgumentError(
      `${owner}: "retries: Infinity" needs "backoff.initial" and "backoff.max" greater than 0 (the first delay and the cap of each delay), got ${policy.initialMs} ms and ${policy.maxMs} ms.`,
    );
  }
  const timeout = positive(options.timeout, base.timeoutMs, 'timeout', owner);
  if (timeout !== undefined) policy.timeoutMs = timeout;
  const heartbeat = positive(options.heartbeatTimeout, base.heartbeatTimeoutMs, 'heartbeatTimeout', owner);
  if (heartbeat !== undefined) {
    if (timeout !== undefined && heartbeat >= timeout) {
      throw new InvalidArgumentError(`${owner}: "heartbeatTimeout" (${heartbeat} ms) must be shorter than "timeout" (${timeout} ms): an attempt ends at its timeout anyway. Lower heartbeatTimeout or drop it.`);
    }
    policy.heartbeatTimeoutMs = heartbeat;
  }
  const total = positive(options.totalTimeout, base.totalTimeoutMs, 'totalTimeout', owner);
  if (total !== undefined) policy.totalTimeoutMs = total;
  return policy;
}

/** A duration option that must be greater than 0, or the base's value when not given. */
function positive(value: Duration | undefined, baseMs: number | undefined, name: string, owner: string): number | undefined {
  if (value === undefined) return baseMs;
  const ms = parseDuration(value, `${owner}: ${name}`);
  if (!(ms > 0)) throw new InvalidArgumentError(`${owner}: "${name}" must be greater than 0, got ${JSON.stringify(value)}.`);
  return ms;
}

/** Delay before attempt `attempt + 1`, after `attempt` (1-based) failed. */
export function backoffDelay(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  // Past a few hundred attempts (retries: Infinity) the power overflows: the cap holds then.
  const grown = policy.initialMs * Math.pow(policy.factor, attempt - 1);
  const raw = Number.isFinite(grown) ? Math.min(policy.maxMs, grown) : policy.maxMs;
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
 * With a `totalTimeout`, `window` gives the first attempt's start (from the log) and now: a retry
 * that would start at or after the deadline is not made.
 */
export function decideRetry(error: unknown, attempt: number, policy: RetryPolicy, window?: { firstStartedAt?: number; now: number }): RetryDecision {
  if (isFatal(error) || attempt >= policy.maxAttempts) return { retry: false };
  const delayMs = error instanceof RetryableError && error.retryAfterMs !== undefined ? error.retryAfterMs : backoffDelay(policy, attempt);
  const left = totalTimeLeft(policy, window?.firstStartedAt, window?.now ?? 0);
  if (left !== undefined && delayMs >= left) return { retry: false };
  return { retry: true, delayMs };
}

/** What is left of the step's `totalTimeout` at `now` (undefined: no total timeout, or no attempt started yet). */
export function totalTimeLeft(policy: RetryPolicy, firstStartedAt: number | undefined, now: number): number | undefined {
  if (policy.totalTimeoutMs === undefined || firstStartedAt === undefined) return undefined;
  return firstStartedAt + policy.totalTimeoutMs - now;
}
