import {
  AppendConflictError,
  RunNotFoundError,
  ScopeCancelledError,
  TERMINAL_EVENT_TYPES,
  type DurablyEvent,
  type Logger,
  type Storage,
} from '@durably/contracts';
import { cancelsCall, endsClaim, leaseTimerId, type AttemptKey, type AttemptTracker } from '../../engine/claims.js';
import type { AttemptOutcome } from '../../engine/step-runner.js';

interface Entry {
  claimSeq: number;
  shielded: boolean;
  /** The lease's expiry as last written. */
  leaseUntil: number;
  abort?: AbortController;
  promise: Promise<AttemptOutcome>;
  /** When the body ended; an outcome nobody records is forgotten a while later. */
  settledAt?: number;
  /** False once the claim is no longer this worker's (its outcome written, taken over, the run cancelled or ended). */
  renew: boolean;
  /** A dispatched step's ended attempt handed to the run: an execution of the run here records its outcome (see offer). */
  offered?: boolean;
}

interface RunAttempts {
  /** The log is known to end here; a renewal is a conditional append at this seq. */
  knownSeq: number;
  entries: Map<string, Entry>;
  renewing?: Promise<void>;
  /** When a renewal last wrote (it set the run's `updatedAt` too). */
  renewedAt?: number;
}

/**
 * The step attempts running in this worker's process (inline and dispatched), with their leases
 * (see replay/claims.ts). While an attempt runs, `renew()` moves its lease timer forward: one
 * conditional append with no events per run, which also serves as the run's heartbeat (it sets
 * `updatedAt`). A renewal that finds the log moved on reads the new events, stops renewing attempts
 * that ended or were taken over, and tries again at the new end.
 */
export class AttemptRegistry implements AttemptTracker {
  private readonly runs = new Map<string, RunAttempts>();

  constructor(
    private readonly storage: Storage,
    private readonly clock: () => number,
    /** Read on each use: a worker made before its client loaded its config file takes its stepLease late. */
    private readonly leaseMsOf: () => number,
    private readonly logger: Logger,
  ) {}

  get leaseMs(): number {
    return this.leaseMsOf();
  }

  run(key: AttemptKey, options: { shielded: boolean; leaseUntil: number; abort?: AbortController }, body: () => Promise<AttemptOutcome>): Promise<AttemptOutcome> {
    const run = this.runOf(key.runId);
    run.knownSeq = Math.max(run.knownSeq, key.claimSeq);
    const promise = body();
    const entry: Entry = { claimSeq: key.claimSeq, shielded: options.shielded, leaseUntil: options.leaseUntil, abort: options.abort, promise, renew: true };
    run.entries.set(key.stepId, entry);
    void promise.then(
      () => (entry.settledAt = this.clock()),
      // Abandoned before its body ran (storage away, the worker stopping): no renewal keeps its lease.
      () => {
        entry.renew = false;
        if (run.entries.get(key.stepId) === entry) this.release(key.runId, key.stepId);
      },
    );
    return promise;
  }

  adopt(key: AttemptKey): { outcome: Promise<AttemptOutcome>; abort?: AbortController } | undefined {
    const entry = this.runs.get(key.runId)?.entries.get(key.stepId);
    return entry && entry.claimSeq === key.claimSeq && entry.renew ? { outcome: entry.promise, abort: entry.abort } : undefined;
  }

  /**
   * A dispatched step's attempt ended here and its outcome is handed to the run: an execution of the
   * run in this process adopts it and records it in the same append as what the code does next
   * (step-task.ts). `false` takes the offer back (the step task records the outcome itself).
   */
  offer(key: AttemptKey, offered = true): void {
    const entry = this.runs.get(key.runId)?.entries.get(key.stepId);
    if (entry && entry.claimSeq === key.claimSeq) entry.offered = offered;
  }

  offered(key: AttemptKey): boolean {
    const entry = this.runs.get(key.runId)?.entries.get(key.stepId);
    return entry !== undefined && entry.claimSeq === key.claimSeq && entry.renew && entry.offered === true;
  }

  release(runId: string, stepId: string): void {
    const run = this.runs.get(runId);
    if (!run) return;
    run.entries.delete(stepId);
    if (run.entries.size === 0) this.runs.delete(runId);
  }

  seen(runId: string, seq: number): void {
    const run = this.runs.get(runId);
    if (run) run.knownSeq = Math.max(run.knownSeq, seq);
  }

  /** True when a lease renewal of the run wrote within `ms` (it served as the run's heartbeat). */
  renewedWithin(runId: string, ms: number): boolean {
    const at = this.runs.get(runId)?.renewedAt;
    return at !== undefined && this.clock() - at < ms;
  }

  get size(): number {
    let n = 0;
    for (const run of this.runs.values()) n += run.entries.size;
    return n;
  }

  /**
   * Moves forward the leases of the attempts running here that have used a third of their lease
   * (called more often than that). A step shorter than a third of a lease is never renewed: its
   * start and its outcome are its only writes.
   */
  async renew(): Promise<void> {
    const now = this.clock();
    const work: Promise<void>[] = [];
    for (const [runId, run] of this.runs) {
      for (const [stepId, entry] of run.entries) {
        // Ended and not recorded by anyone here for two leases (or no longer ours and ended): no execution will adopt it.
        if (entry.settledAt !== undefined && (!entry.renew || now - entry.settledAt > 2 * this.leaseMs)) run.entries.delete(stepId);
      }
      if (run.entries.size === 0) {
        this.runs.delete(runId);
        continue;
      }
      const due = [...run.entries.values()].some((e) => e.renew && e.leaseUntil - now < (this.leaseMs * 2) / 3);
      if (run.renewing || !due) continue;
      run.renewing = this.moveLeases(runId, run, now + this.leaseMs).finally(() => (run.renewing = undefined));
      work.push(run.renewing);
    }
    await Promise.all(work);
  }

  /**
   * Hand-back: voids every claim this worker holds by deleting its lease timer, so the next worker
   * that gets the run (or the dispatched step) takes the attempt over at once instead of waiting for
   * the lease to lapse. Renewals stop.
   */
  async voidAll(): Promise<void> {
    await Promise.allSettled(
      [...this.runs].map(async ([runId, run]) => {
        await run.renewing;
        await this.moveLeases(runId, run, undefined);
        for (const entry of run.entries.values()) entry.renew = false;
      }),
    );
  }

  /** Sets (or, with `fireAt` undefined, clears) the lease timers of the run's live claims here. */
  private async moveLeases(runId: string, run: RunAttempts, fireAt: number | undefined): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const mine = [...run.entries].filter(([, e]) => e.renew).map(([stepId]) => leaseTimerId(stepId));
      if (mine.length === 0) return;
      const began = this.clock();
      try {
        await this.storage.append(
          fireAt === undefined
            ? { runId, expectedSeq: run.knownSeq, events: [], clearTimers: mine }
            : { runId, expectedSeq: run.knownSeq, events: [], setTimers: mine.map((timerId) => ({ runId, timerId, fireAt })) },
        );
        if (fireAt !== undefined) {
          for (const e of run.entries.values()) if (e.renew) e.leaseUntil = fireAt;
          run.renewedAt = this.clock();
          this.warnIfSlow(run.renewedAt - began);
        }
        return;
      } catch (err) {
        if (err instanceof RunNotFoundError) {
          for (const e of run.entries.values()) e.renew = false;
          return;
        }
        if (!(err instanceof AppendConflictError)) {
          // Storage away for a moment: the next renewal tries again (the lease outlives a few misses).
          this.logger.debug('lease renewal failed', { runId, error: String(err) });
          return;
        }
        const tail = await this.storage.readEvents(runId, run.knownSeq + 1).catch(() => [] as DurablyEvent[]);
        if (tail.length === 0) continue;
        run.knownSeq = tail[tail.length - 1].seq;
        this.stopRenewingEnded(run, tail);
      }
    }
  }

  private slowWarnedAt = -Infinity;

  /**
   * A renewal that takes more than a third of the lease leaves too little of it: one more slow write
   * and the lease lapses while this worker lives, and another worker runs the attempt too. Said at
   * most once a minute, with what to do about it.
   */
  private warnIfSlow(tookMs: number): void {
    const now = this.clock();
    if (tookMs <= this.leaseMs / 3 || now - this.slowWarnedAt < 60_000) return;
    this.slowWarnedAt = now;
    this.logger.warn(`a step lease renewal took ${tookMs} ms, more than a third of stepLease (${this.leaseMs} ms): storage is slow enough that leases may lapse while their steps run here, and other workers would run those steps again; raise stepLease well above the storage's write latency`, { tookMs, stepLeaseMs: this.leaseMs });
  }

  /** Claims the new events end: an outcome or a newer claim of the step, a cancel (unless shielded), the run's end. */
  private stopRenewingEnded(run: RunAttempts, tail: DurablyEvent[]): void {
    const ended = tail.some((e) => TERMINAL_EVENT_TYPES.has(e.type));
    const cancelled = tail.some((e) => e.type === 'cancel_requested');
    for (const [stepId, entry] of run.entries) {
      if (ended || (cancelled && !entry.shielded) || tail.some((e) => (e.type === 'step_started' && e.correlationId === stepId) || endsClaim(e, stepId))) {
        entry.renew = false;
      }
      // Cancelled with its scope (a dispatched step learns it here; an inline one's execution aborted it already).
      const scope = tail.find((e) => cancelsCall(e, stepId));
      if (scope?.type === 'scope_cancelled') entry.abort?.abort(new ScopeCancelledError(scope.data.reason, scope.correlationId));
    }
  }

  private runOf(runId: string): RunAttempts {
    let run = this.runs.get(runId);
    if (!run) this.runs.set(runId, (run = { knownSeq: 0, entries: new Map() }));
    return run;
  }
}
