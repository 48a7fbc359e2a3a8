/**
 * Step attempts of the replay loop (execution.ts's `advance` drives them): which inline steps may
 * start an attempt now, the durable `step_started` (the claim) and its lease timer written before the
 * body runs, the body's outcome turned into its event (a retry, a hook suspension, a failure), and
 * the takeover of attempts the log shows in flight whose worker was lost (their lease lapsed).
 */
import {
  type EventDataMap,
  WorkerLostError,
  StepFailedError,
  deserialize,
  errorToObject,
  serialize,
  checkPayload,
  DEFAULT_LIMITS,
} from '@durably/contracts';
import { decideRetry, totalTimeLeft } from './retry.js';
import type { StepCommand } from './commands.js';
import { StepSuspended } from './control.js';
import { leaseTimerId } from './claims.js';
import type { AttemptOutcome, AttemptRequest } from './step-runner.js';
import { DurableCalls } from './calls.js';
import { hookIndexKey } from './hook-token.js';
import { DEFAULT_STEP_LEASE_MS } from './deps.js';

/** The step attempts of an execution; Execution (execution.ts) builds the live loop on them. */
export abstract class StepAttempts extends DurableCalls {
  /** Some step attempt runs for this execution (an outcome may still come). */
  protected get attemptsRunning(): boolean {
    for (const cmd of this.commands.values()) if (cmd.kind === 'step' && cmd.inflight) return true;
    return false;
  }

  /**
   * Attempts the log shows in flight (`step_started`, no outcome): ones still running in this worker
   * are adopted; one running in another live worker means that worker advances the run, so this
   * execution leaves it ('owned'); ones whose lease lapsed lost their worker and are taken over.
   */
  protected async resolveClaims(checkDispatched: boolean): Promise<'owned' | undefined> {
    const foreign: StepCommand[] = [];
    for (const cmd of this.commands.values()) {
      if (cmd.kind !== 'step' || !cmd.claim || cmd.inflight || (cmd.scheduled && !checkDispatched)) continue;
      const key = { runId: this.runId, stepId: cmd.id, claimSeq: cmd.claim.seq };
      const adopted = cmd.claim.workerId === this.deps.workerId ? this.deps.attempts?.adopt(key) : undefined;
      if (adopted) {
        cmd.abort = adopted.abort;
        this.follow(cmd, cmd.claim.attempt, adopted.outcome);
      } else {
        foreign.push(cmd);
      }
    }
    if (foreign.length === 0) return undefined;
    const leases = new Map((await this.deps.storage.listTimers(this.runId)).map((t) => [t.timerId, t.fireAt]));
    const now = this.deps.clock();
    const lapsed: Array<{ cmd: StepCommand; handedBack: boolean }> = [];
    for (const cmd of foreign) {
      const until = leases.get(leaseTimerId(cmd.id));
      if (cmd.scheduled) {
        // A dispatched step's attempt belongs to a step worker; with no lease timer left it was handed
        // back, and the step worker that gets the task claims it. A lapsed one is re-sent from here.
        if (until !== undefined && until <= now) lapsed.push({ cmd, handedBack: false });
      } else if (until !== undefined && until > now) {
        return 'owned';
      } else {
        lapsed.push({ cmd, handedBack: until === undefined });
      }
    }
    if (lapsed.length === 0) return undefined;
    for (const { cmd, handedBack } of lapsed) {
      const detail = { step: cmd.name, stepId: cmd.id, attempt: cmd.claim!.attempt, previousWorker: cmd.claim!.workerId };
      if (this.deps.onTakeover) this.deps.onTakeover({ ...detail, runId: this.runId, handedBack });
      else if (handedBack) this.logger.info('taking over a step attempt its worker handed back', detail);
      else this.logger.warn('a step attempt lost its worker (its lease lapsed); taking it over', detail);
      this.dropTimer(leaseTimerId(cmd.id));
      cmd.claim = undefined;
      if (cmd.scheduled) this.toDispatch.push(cmd);
    }
    this.recordInterruption();
    return undefined;
  }

  /**
   * Called when this execution takes over a run whose previous worker was lost: records it, and fails
   * the run when its workflow does not recover from worker loss or has used up its recoveries.
   */
  protected recordInterruption(): void {
    const attempt = this.interruptions + 1;
    this.interruptions = attempt;
    this.push({ type: 'run_interrupted', data: { attempt, workerId: this.deps.workerId } });
    if (!this.def.recoverOnWorkerLoss) {
      this.fail(new WorkerLostError(`Run ${this.runId} lost its worker and its workflow has recoverOnWorkerLoss: false.`));
    } else if (attempt > this.def.maxRecoveryAttempts) {
      this.fail(new WorkerLostError(`Run ${this.runId} lost its worker ${attempt} times, more than its maxRecoveryAttempts (${this.def.maxRecoveryAttempts}).`));
    }
  }

  /**
   * Inline steps whose next attempt may start now, and whether some wait in this process for a short
   * retry delay; long retry waits get a timer instead.
   */
  protected readyAttempts(): { ready: StepCommand[]; waiting: boolean } {
    const now = this.deps.clock();
    const ready: StepCommand[] = [];
    let waiting = false;
    for (const cmd of this.commands.values()) {
      if (cmd.settled || cmd.kind !== 'step' || cmd.inflight || cmd.claim || cmd.scheduled || cmd.waitingHook || !this.deps.runsInline(cmd.def)) continue;
      const wait = (cmd.retryAt ?? 0) - now;
      if (wait <= 0) {
        ready.push(cmd);
      } else if (wait <= this.deps.inlineRetryMaxMs) {
        waiting = true; // waitForProgress wakes at its retryAt
      } else if (cmd.retryTimerAt !== cmd.retryAt) {
        cmd.retryTimerAt = cmd.retryAt;
        const timer = { runId: this.runId, timerId: `retry:${cmd.id}`, fireAt: cmd.retryAt! };
        this.setTimers.push(timer);
        this.newTimers.push(timer);
        this.liveTimers.add(timer.timerId);
      }
    }
    return { ready, waiting };
  }

  /** Queues the `step_started` of the step's next attempt and its lease timer (storage only: no wake-up is published for it). */
  protected claim(cmd: StepCommand): void {
    const now = this.deps.clock();
    const leaseUntil = now + (this.deps.stepLeaseMs ?? DEFAULT_STEP_LEASE_MS);
    this.push({ type: 'step_started', correlationId: cmd.id, data: { name: cmd.name, attempt: cmd.attempts + 1, workerId: this.deps.workerId, leaseUntil }, at: now });
    this.storeTimer({ runId: this.runId, timerId: leaseTimerId(cmd.id), fireAt: leaseUntil });
  }

  /** Runs the attempt that the durable `step_started` (cmd.claim) names. */
  protected startAttempt(cmd: StepCommand): void {
    const claim = cmd.claim!;
    const abort = new AbortController();
    cmd.abort = abort;
    const request: AttemptRequest = {
      ...{ runId: this.runId, stepId: cmd.id, def: cmd.def, args: cmd.args, attempt: claim.attempt, policy: cmd.policy, signal: abort.signal, hookOutcomes: cmd.hookOutcomes, claimSeq: claim.seq },
      resumed: cmd.firstStart !== undefined && cmd.firstStart.seq < claim.seq,
      firstStartedAt: cmd.firstStart?.at,
      totalLeftMs: totalTimeLeft(cmd.policy, cmd.firstStart?.at, this.deps.clock()),
    };
    const body = () => this.deps.runAttempt(request);
    const tracker = this.deps.attempts;
    this.follow(cmd, claim.attempt, tracker ? tracker.run({ runId: this.runId, stepId: cmd.id, claimSeq: claim.seq }, { shielded: cmd.shielded, leaseUntil: claim.leaseUntil, abort }, body) : body());
  }

  /** The loop records the attempt's outcome when it comes. */
  protected follow(cmd: StepCommand, attempt: number, outcome: Promise<AttemptOutcome>): void {
    cmd.inflight = true;
    void outcome.then(
      (o) => {
        this.completed.push({ cmd, outcome: o, attempt });
        this.wake?.();
      },
      (err: unknown) => {
        this.abandonedAttempt ??= err;
        this.wake?.();
      },
    );
  }

  /** Turns an attempt's outcome into its event and settles the call (the event is flushed before any external effect). */
  protected recordAttempt(cmd: StepCommand, outcome: AttemptOutcome, attempt: number): void {
    cmd.inflight = false;
    cmd.attempts = attempt;
    if (cmd.settled) return; // cancelled meanwhile (its claim was dropped then)
    // The outcome (or the hook suspension) ends the attempt, in the same append as its lease timer's deletion.
    if (cmd.claim) this.dropTimer(leaseTimerId(cmd.id));
    cmd.claim = undefined;
    this.toRelease.push(cmd.id);
    if (outcome.ok) {
      let result: string;
      try {
        result = checkPayload(serialize(outcome.value, `the result of step "${cmd.name}"`), `The result of step "${cmd.name}"`, this.deps.limits ?? DEFAULT_LIMITS);
      } catch (err) {
        return this.recordAttempt(cmd, { ok: false, error: err }, attempt);
      }
      this.push({ type: 'step_completed', correlationId: cmd.id, data: { name: cmd.name, attempt, result } });
      this.dropTimer(`retry:${cmd.id}`);
      // The code sees exactly what a replay would: the value as read back from its serialized form.
      this.settle(cmd, { ok: true, value: deserialize(result) });
      return;
    }
    const error = outcome.error;
    const now = this.deps.clock();
    if (error instanceof StepSuspended) {
      // Not a failure: the step waits for its hook; the attempt is not counted.
      cmd.attempts = attempt - 1;
      const cid = `${cmd.id}/${error.hookName}`;
      const expiresAt = error.timeoutMs === undefined ? undefined : now + error.timeoutMs;
      cmd.waitingHook = { name: error.hookName, token: error.token, timeoutAt: expiresAt };
      this.push({ type: 'hook_created', correlationId: cid, data: expiresAt === undefined ? { name: error.hookName, token: error.token } : { name: error.hookName, token: error.token, expiresAt } });
      this.setHooks.push({ token: hookIndexKey(error.token), runId: this.runId, correlationId: cid, name: error.hookName, createdAt: now, expiresAt });
      if (expiresAt !== undefined) this.addTimer(`hook:${cid}`, expiresAt);
      return;
    }
    const decision = decideRetry(error, attempt, cmd.policy, { firstStartedAt: cmd.firstStart?.at, now });
    const data: EventDataMap['step_failed'] = { name: cmd.name, attempt, error: errorToObject(error) };
    if (decision.retry) {
      cmd.retryAt = now + decision.delayMs;
      data.retryAt = cmd.retryAt;
    }
    this.push({ type: 'step_failed', correlationId: cmd.id, data, at: now });
    if (!decision.retry) {
      this.dropTimer(`retry:${cmd.id}`);
      this.settle(cmd, { ok: false, error: new StepFailedError(cmd.name, attempt, error) });
    }
  }
}
