import { checkQueue, parseDuration, InvalidArgumentError } from '@durably/contracts';
import type { WorkerOptions } from './worker.js';
import { DEFAULT_STEP_LEASE_MS } from '../replay/execution.js';

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
