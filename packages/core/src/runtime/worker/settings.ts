import { parseDuration, InvalidArgumentError, type Duration, type Logger, checkQueue } from '@durably/contracts';
import type { PinoLike } from '../../logger.js';
import type { Workflow } from '../../engine/definitions.js';
import type { Instrumentation } from '../../observe/instrumentation.js';
import type { WorkerTuning } from '../../config/types.js';
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
export interface WorkerOptions extends WorkerTuning {
  /** The workflows this worker runs. */
  workflows: Workflow<any[], any>[];
  /** Client (storage + broker) to work on. Default: the default client (configure() or the embedded default). */
  client?: Client;
  /** A Logger, or a pino instance as it is (every field is kept). Default: createLogger(). */
  logger?: Logger | PinoLike;
  /** Your own hooks on runs, step attempts, dead letters and recoveries (besides logs, metrics and spans). */
  instrumentation?: Instrumentation;
  /** This worker's id in the log (`run_started`, `step_started`). Default: host name, pid and a random suffix. */
  workerId?: string;
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
    timerSweepGraceMs: parseDuration(options.timerSweepGrace ?? '2s', 'createWorker(): timerSweepGrace'),
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
  timerSweepGraceMs: number;
  inlineRetryMaxMs: number;
  localTimerWindowMs: number;
};
