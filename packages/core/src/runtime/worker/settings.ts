import { parseDuration, InvalidArgumentError, type Duration, type Logger, checkQueue } from '@durably/contracts';
import type { PinoLike } from '../../logger.js';
import type { Workflow } from '../../engine/definitions.js';
import type { Instrumentation } from '../../observe/instrumentation.js';
import type { HttpOptions } from '../../config/types.js';
import type { Client } from '../client/client.js';
import { DEFAULT_STEP_LEASE_MS } from '../../engine/execution.js';

/**
 * Options of `createWorker(...)` / `new Worker(...)`: which workflows and queues it serves, how many
 * tasks at once, and the timings of leases, recovery and timers. Durations are ms or strings such as `'30s'`.
 *
 * @example
 * ```ts
 * import { createWorker, workflow } from '@durably/core';
 *
 * const hello = workflow('hello', async (name: string) => `hello ${name}`);
 * const worker = createWorker({ workflows: [hello], queues: ['default'], concurrency: 20 });
 * await worker.start();
 * ```
 */
export interface WorkerOptions {
  /** The workflows this worker runs. */
  workflows: Workflow<any[], any>[];
  /** Client (storage + broker) to work on. Default: the default client (configure() or the embedded default). */
  client?: Client;
  /** Most tasks (runs and dispatched steps) handled at once per queue. Default 10. */
  concurrency?: number;
  /** Queues to consume. Default ["default"]. Steps with another `queue` are dispatched to workers on it. */
  queues?: string[];
  /**
   * "inline" (default): steps run in the workflow's worker, one storage write per step.
   * "dispatch": every step is a broker task, spreading steps over all workers.
   */
  stepMode?: 'inline' | 'dispatch';
  /** Broker visibility timeout: a dead worker's task comes back after this. Default 30s. */
  visibilityTimeout?: Duration;
  /**
   * Lease of a running step attempt. The worker renews it while the body runs (every third of it, at
   * most every second); another worker that finds the attempt under a live lease leaves it alone,
   * and once it lapses (the worker died) the run is taken over, the attempt run again. So a run whose
   * worker was killed mid-step resumes about `stepLease` + 3 s after the kill. A step body that blocks
   * the event loop for longer than this may be run a second time elsewhere. Default 5s.
   */
  stepLease?: Duration;
  /** A pending or running run with no progress for this long is resumed elsewhere. Default 60s. */
  staleAfter?: Duration;
  /** How often to look for stuck runs. Default 10s. */
  recoveryInterval?: Duration;
  /** How often to look in storage for overdue timers whose wake-up message was lost. Default 1s. */
  timerSweepInterval?: Duration;
  /**
   * Timers (sleeps, timeouts) due within this window are fired by this worker itself at their time,
   * without a broker round trip; later ones get a delayed broker message. Either way the timer in
   * storage is the truth: if this worker dies, the timer sweep wakes the run. 0 turns it off. Default 60s.
   */
  localTimerWindow?: Duration;
  /** Retry delays up to this are waited in-process; longer ones suspend the run. Default 5s. */
  inlineRetryMax?: Duration;
  /** Executions kept in memory while they wait on dispatched steps. Default 1,000. */
  cacheSize?: number;
  /** A Logger, or a pino instance as it is (every field is kept). Default: createLogger(). */
  logger?: Logger | PinoLike;
  /** Your own hooks on runs, step attempts, dead letters and recoveries (besides logs, metrics and spans). */
  instrumentation?: Instrumentation;
  /** Opt-in operations endpoint: GET /healthz, /readyz and /metrics (Prometheus) on this port. */
  http?: HttpOptions;
  /** This worker's id in the log (`run_started`, `step_started`). Default: host name, pid and a random suffix. */
  workerId?: string;
  /** Run the scheduler in this worker (fires due schedule slots). Default true. */
  scheduler?: boolean;
  /** How often the scheduler looks for due slots. Default 1s. */
  scheduleInterval?: Duration;
  /** Delete finished runs older than this (checked every recoveryInterval). Default: keep forever. */
  retention?: Duration;
  /** Replaces step bodies by step name (for tests: see createTestEnv's mockStep). */
  stepOverrides?: Map<string, (...args: any[]) => unknown>;
}

/** Deliveries before the broker dead-letters a failing task (passed to consume, so the worker knows when it happens). */
export const MAX_DELIVERIES = 10;

export function deriveSettings(options: Omit<WorkerOptions, 'workflows'>): Settings {
  const concurrency = options.concurrency ?? 10;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new InvalidArgumentError(`createWorker(): "concurrency" must be a whole number >= 1, got ${concurrency}.`);
  const queues = (options.queues ?? ['default']).map((q) => checkQueue(q, 'createWorker()'));
  if (options.stepMode !== undefined && options.stepMode !== 'inline' && options.stepMode !== 'dispatch') {
    throw new InvalidArgumentError(`createWorker(): "stepMode" must be "inline" or "dispatch", got ${JSON.stringify(options.stepMode)}.`);
  }
  const stepLeaseMs = options.stepLease === undefined ? DEFAULT_STEP_LEASE_MS : parseDuration(options.stepLease, 'createWorker(): stepLease');
  if (stepLeaseMs < 100) throw new InvalidArgumentError(`createWorker(): "stepLease" must be at least 100 ms, got ${stepLeaseMs} ms.`);
  return {
    concurrency,
    queues,
    stepMode: options.stepMode ?? 'inline',
    visibilityTimeoutMs: parseDuration(options.visibilityTimeout ?? '30s', 'createWorker(): visibilityTimeout'),
    stepLeaseMs,
    staleAfterMs: parseDuration(options.staleAfter ?? '60s', 'createWorker(): staleAfter'),
    recoveryIntervalMs: parseDuration(options.recoveryInterval ?? '10s', 'createWorker(): recoveryInterval'),
    timerSweepIntervalMs: parseDuration(options.timerSweepInterval ?? '1s', 'createWorker(): timerSweepInterval'),
    inlineRetryMaxMs: parseDuration(options.inlineRetryMax ?? '5s', 'createWorker(): inlineRetryMax'),
    localTimerWindowMs: parseDuration(options.localTimerWindow ?? '60s', 'createWorker(): localTimerWindow'),
  };
}

export type Settings = {
  concurrency: number;
  queues: string[];
  stepMode: 'inline' | 'dispatch';
  visibilityTimeoutMs: number;
  stepLeaseMs: number;
  staleAfterMs: number;
  recoveryIntervalMs: number;
  timerSweepIntervalMs: number;
  inlineRetryMaxMs: number;
  localTimerWindowMs: number;
};
