import {
  parseDuration,
  type Duration,
  CancelledError,
  ResultTimeoutError,
  RunNotFoundError,
  WorkflowFailedError,
  type DurablyEvent,
  deserialize,
  objectToError,
  FINISHED_STATUSES,
  type RunRecord,
  type RunStatus,
  type Storage,
} from '@durably/contracts';
import type { RunSource } from '../host.js';
import { listenForRemoteFinishes, onRunFinished } from './notify.js';
import { waitingOf, type RunWaiting } from './waiting.js';

/** How a start() call got its handle. */
export interface StartOutcome {
  /** true: this call created the run; false: it found an existing one (same idempotency key, or same runId). */
  created: boolean;
  /** true when the existing run, found by idempotency key, was started with other arguments than this call's. */
  argsDiffer?: boolean;
}

/** A handle to one run: its id, its status, its outcome and its log. */
export class RunHandle<R = unknown> {
  /**
   * Set on handles returned by start(): false when the start returned a run that already existed
   * (by idempotency key or runId) instead of creating one. Undefined on handles from getRun().
   */
  readonly created?: boolean;
  /**
   * true when start() returned an existing run found by its idempotency key that was started with
   * other arguments than the ones given (the arguments of the first start win; a warning is logged).
   */
  readonly argsDiffer: boolean;

  constructor(
    private readonly client: RunSource,
    readonly runId: string,
    start?: StartOutcome,
  ) {
    if (start) this.created = start.created;
    this.argsDiffer = start?.argsDiffer === true;
  }

  async status(): Promise<RunStatus> {
    return (await this.record()).status;
  }

  /** The run record (status, times, result or error). */
  async record(): Promise<RunRecord> {
    const run = await this.client.storage.getRun(this.runId);
    if (!run) throw new RunNotFoundError(this.runId);
    return run;
  }

  /**
   * Waits for the run to finish. Resolves with the workflow's return value; rejects with
   * WorkflowFailedError (cause: the workflow's error), CancelledError, or ResultTimeoutError.
   */
  async result(options: { timeout?: Duration } = {}): Promise<R> {
    const timeoutMs = options.timeout === undefined ? undefined : parseDuration(options.timeout, 'result({ timeout })');
    const deadline = timeoutMs === undefined ? Infinity : Date.now() + timeoutMs;
    const storage = this.client.storage;
    // Same-process workers notify at once, and storages that can (Postgres, Redis) tell of runs
    // finished by other processes; polling with backoff is the safety net, slow when notices come.
    let wake: (() => void) | undefined;
    // Set by a notice that arrives while the run is being read, so it is not lost.
    let noticed = false;
    const onNotice = () => {
      noticed = true;
      wake?.();
    };
    let runId = this.runId;
    let unsubscribe = onRunFinished(storage, runId, onNotice);
    const notified = await listenForRemoteFinishes(storage);
    // With notices, the polls only cover a notice lost (a reconnect of the listening connection): a read
    // at once, then after 1, 3, 7 s... up to every 5 s, so that 1,000 waiting callers cost the storage
    // about 200 reads a second, not thousands.
    const maxDelay = notified ? 5000 : 500;
    try {
      let delay = notified ? 1000 : 10;
      for (;;) {
        noticed = false;
        const run = await storage.getRun(runId);
        if (!run) throw new RunNotFoundError(runId);
        // Follow continueAsNew to the run that carries on; its outcome is this run's outcome.
        const next = await this.client.nextInChain(run);
        if (next) {
          runId = next;
          unsubscribe();
          unsubscribe = onRunFinished(storage, runId, onNotice);
          continue;
        }
        if (FINISHED_STATUSES.has(run.status)) return await outcomeOf<R>(run, storage);
        const remaining = deadline - Date.now();
        if (remaining <= 0) throw new ResultTimeoutError(runId, timeoutMs!, run.status);
        if (noticed) continue; // finished while we were reading: read again at once
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(delay, remaining));
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = undefined;
        delay = Math.min(delay * 2, maxDelay);
      }
    } finally {
      unsubscribe();
    }
  }

  /**
   * Why the run, unfinished, is not progressing by itself, when the engine knows: it waits for a
   * worker that has its workflow (no worker that received it has). Undefined otherwise (it runs, or
   * waits on a timer, a hook, a signal or a step).
   */
  async waitingFor(): Promise<RunWaiting | undefined> {
    return waitingOf(this.client.storage, await this.record());
  }

  /** The run's full event log, in seq order. */
  async events(fromSeq = 1): Promise<DurablyEvent[]> {
    return this.client.storage.readEvents(this.runId, fromSeq);
  }

  /** Asks the run to stop: it sees a CancelledError at its current await and ends as `cancelled`. */
  async cancel(reason?: string): Promise<void> {
    await this.client.cancel(this.runId, reason);
  }
}

async function outcomeOf<R>(run: RunRecord, storage: Storage): Promise<R> {
  switch (run.status) {
    case 'completed':
      return (run.result === undefined ? undefined : deserialize(run.result)) as R;
    case 'failed':
      throw new WorkflowFailedError(run.runId, run.error ? objectToError(run.error) : new Error('unknown error'));
    case 'cancelled': {
      // The record keeps the CancelledError with the reason given to cancel(); runs recorded without
      // it have the reason in their final event.
      const stored = run.error ? objectToError(run.error) : undefined;
      if (stored instanceof CancelledError) throw stored;
      const [last] = await storage.readEvents(run.runId, run.lastSeq, 1);
      throw new CancelledError(last?.type === 'run_cancelled' ? last.data.reason : undefined);
    }
    default:
      throw new WorkflowFailedError(run.runId, new Error(`run ended with status ${run.status}`));
  }
}
