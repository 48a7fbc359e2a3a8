import type { DurablyEvent } from '@durably/contracts';
import type { AttemptOutcome } from './step-runner.js';

/**
 * Step attempts and their leases. Before a step's body runs, its worker appends `step_started` and,
 * in the same atomic append, the run's timer `lease:<position>` at the lease's expiry. The timer is
 * storage-only (no wake-up is published for it): while the body runs its worker moves it forward
 * (`AttemptTracker`); the attempt's outcome, written in one append, clears it. So:
 *
 * - a worker that replays the run and finds the attempt with no outcome reads the timer: in the
 *   future, the attempt belongs to a live worker and is left to it (a duplicate message costs one
 *   replay and no body execution); past, or gone, the owner died (or handed it back) and the attempt
 *   is taken over, recorded as `run_interrupted`;
 * - the timer sweep fires a lapsed lease like any overdue timer, so a run whose worker died mid-step
 *   is taken over about `stepLease` plus the sweep's period after the death, not after the broker's
 *   visibility timeout.
 *
 * Every decision taken on these reads is fenced: the takeover is a conditional append at the seq the
 * decision was read at, so a stale read costs a replay, never a second recorded outcome.
 */

export function leaseTimerId(stepId: string): string {
  return `lease:${stepId}`;
}

/** Identifies one attempt: the step's position and the seq of the `step_started` that claimed it. */
export interface AttemptKey {
  runId: string;
  stepId: string;
  claimSeq: number;
}

/**
 * The worker's record of the attempts running in its process. Attempts belong to the worker, not to
 * one execution of the run: when an execution is dropped (another writer appended first) and the run
 * is replayed, the replay adopts the attempt still running here instead of running its body again.
 */
export interface AttemptTracker {
  /**
   * Runs an attempt whose `step_started` (with `leaseUntil`) is durable; its lease is renewed until
   * `release`. `abort` fires the attempt's signal (cancellation), for whichever execution adopts it.
   */
  run(key: AttemptKey, options: { shielded: boolean; leaseUntil: number; abort?: AbortController }, body: () => Promise<AttemptOutcome>): Promise<AttemptOutcome>;
  /** The attempt this claim names, when it runs (or ran, unrecorded) in this process. */
  adopt(key: AttemptKey): { outcome: Promise<AttemptOutcome>; abort?: AbortController } | undefined;
  /**
   * True when the attempt is a dispatched step's, ended in this process, whose outcome its step task
   * handed to the run: an execution of the run adopts it as it would an inline attempt's.
   */
  offered?(key: AttemptKey): boolean;
  /** The attempt's outcome is recorded, or never will be: stop renewing its lease and forget it. */
  release(runId: string, stepId: string): void;
  /** The run's log is known to end at `seq` (renewals are conditional appends at its end). */
  seen(runId: string, seq: number): void;
}

/**
 * The open claim of a step in a stretch of its run's log: its latest `step_started` with no outcome
 * (completed, failed, or suspended on a step hook) after it.
 */
export function openClaim(events: DurablyEvent[], stepId: string): { seq: number; workerId: string; attempt: number } | undefined {
  let claim: { seq: number; workerId: string; attempt: number } | undefined;
  for (const e of events) {
    if (e.type === 'step_started' && e.correlationId === stepId) claim = { seq: e.seq, workerId: e.data.workerId, attempt: e.data.attempt };
    else if (claim && endsClaim(e, stepId)) claim = undefined;
  }
  return claim;
}

/** True when `e` ends an attempt of step `stepId`: its outcome, its suspension on a step hook, or its scope's cancellation. */
export function endsClaim(e: DurablyEvent, stepId: string): boolean {
  if (e.type === 'scope_cancelled') return cancelsCall(e, stepId);
  if (e.correlationId === stepId) return e.type === 'step_completed' || e.type === 'step_failed';
  return e.type === 'hook_created' && e.correlationId === `${stepId}/${e.data.name}`;
}

/** True when `e` is the cancellation of a scope that cancelled the call at `position`. */
export function cancelsCall(e: DurablyEvent, position: string): boolean {
  return e.type === 'scope_cancelled' && e.data.calls.includes(position);
}
