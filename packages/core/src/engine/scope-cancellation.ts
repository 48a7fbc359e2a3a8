import { CancelledError, NonDeterminismError, ScopeCancelledError, type DurablyEvent, type EventOf } from '@durably/contracts';
import { CancelScope } from './cancel-scope.js';
import type { Command, StepCommand } from './commands.js';
import { Replay } from './replay.js';
import { leaseTimerId } from './claims.js';

/**
 * Cancellation: of the run (`cancel_requested`, and its notice `cancelRequested`), and of scopes
 * (`cancellable`, `withTimeout`).
 *
 * A cancelled run settles every pending call that is not shielded with CancelledError; the attempts
 * of its steps are dropped (their lease timers go with the next append, their signals fire).
 *
 * The workflow code cancels a scope: every pending call made inside it (or inside a scope nested in
 * it, but not inside a shield) is settled at once with ScopeCancelledError. A step attempt running
 * here sees its abort signal and is not recorded; a step not yet started never starts; a dispatched
 * step's worker finds the cancellation in the log (its lease timer goes with it); timers are deleted,
 * hooks can no longer be resumed, children started in the scope are asked to cancel. All of it goes
 * in the next append with one `scope_cancelled` event listing the cancelled positions. The cancel
 * is a call of the code, so a replay cancels at the same point and checks the event says the same.
 */
export abstract class ScopedReplay extends Replay {
  private scopeCount = 0;

  /** The calls the code cancelled with each scope, by scope id (a replay compares them with the log). */
  protected readonly cancelledScopes = new Map<string, string[]>();

  /** Positions of the calls cancelled with a scope: a late event of one is ignored. */
  protected readonly cancelledCalls = new Set<string>();

  /** What stops the attempts of cancelled steps, done after the next append. */
  private afterAppend: Array<() => void> = [];

  private cancelNotice?: { promise: Promise<{ reason?: string }>; resolve(value: { reason?: string }): void };

  /** A new cancellable scope inside `parent`, numbered in the order the code makes them. */
  openScope(parent: CancelScope | undefined): CancelScope {
    return new CancelScope(`scope:${++this.scopeCount}`, parent);
  }

  /** Cancels the scope's pending calls; false when it was cancelled already (itself or a scope around it). */
  cancelScope(scope: CancelScope, reason?: string): boolean {
    if (scope.id === undefined || scope.cancellation || this.fatal) return false;
    const error = new ScopeCancelledError(reason, scope.id);
    scope.cancelled = error;
    const calls: string[] = [];
    for (const cmd of [...this.commands.values()]) {
      if (cmd.settled || !cmd.scope?.within(scope)) continue;
      calls.push(cmd.id);
      this.cancelledCalls.add(cmd.id);
      this.cancelCall(cmd, error);
    }
    for (const [position, child] of this.children) {
      if (child.done || child.cancelled || !child.scope?.within(scope)) continue;
      child.cancelled = true;
      calls.push(position);
      child.reject(error);
      // After the append; sent again by every replay until the child's outcome is in this log.
      this.cancelChildren.push({ runId: child.runId, reason: `its scope in parent run ${this.runId} was cancelled${reason ? `: ${reason}` : ''}` });
    }
    calls.sort((a, b) => Number(a) - Number(b));
    this.cancelledScopes.set(scope.id, calls);
    if (this.loggedData.get(scope.id)?.type !== 'scope_cancelled') this.push({ type: 'scope_cancelled', correlationId: scope.id, data: reason === undefined ? { calls } : { reason, calls } });
    return true;
  }

  /** Ends one call of a cancelled scope: what it holds in storage goes with the next append. */
  private cancelCall(cmd: Command, error: ScopeCancelledError): void {
    const now = this.deps.clock();
    switch (cmd.kind) {
      case 'step':
        this.stopAttempt(cmd, error);
        if (cmd.claim) this.dropTimer(leaseTimerId(cmd.id));
        cmd.claim = undefined;
        this.dropTimer(`retry:${cmd.id}`);
        if (cmd.waitingHook) {
          const { name, token } = cmd.waitingHook;
          const cid = `${cmd.id}/${name}`;
          this.setHooks.push({ token, runId: this.runId, correlationId: cid, name, createdAt: now, expiresAt: now, consumedAt: now });
          this.dropTimer(`hook:${cid}`);
          cmd.waitingHook = undefined;
        }
        break;
      case 'hook':
        this.dropTimer(`hook:${cmd.id}`);
        // Expired now: a resumeHook with its token is refused (HookExpiredError).
        if (cmd.started) this.setHooks.push({ ...this.hookRecord(cmd), expiresAt: now, consumedAt: now });
        break;
      case 'sleep':
      case 'signal':
      case 'condition':
        this.dropTimer(`${cmd.kind}:${cmd.id}`);
        break;
      default:
        break;
    }
    this.settle(cmd, { ok: false, error });
  }

  /**
   * The attempt running in this process (inline, or a dispatched one this worker runs) stops once the
   * cancellation is durable: its signal fires and its lease is no longer renewed (renewed, it would
   * write its lease timer again). Before, an attempt that ended would record an outcome the log
   * would then have before the cancel.
   */
  private stopAttempt(cmd: StepCommand, error: ScopeCancelledError): void {
    const running = cmd.inflight ? { abort: cmd.abort } : cmd.claim ? this.deps.attempts?.adopt({ runId: this.runId, stepId: cmd.id, claimSeq: cmd.claim.seq }) : undefined;
    if (!running) return;
    this.afterAppend.push(() => {
      running.abort?.abort(error);
      this.deps.attempts?.release(this.runId, cmd.id);
    });
  }

  /** Replays a scope's cancellation: the code must have cancelled the same scope, with the same calls, by now. */
  protected applyScopeCancelled(ev: EventOf<'scope_cancelled'>): boolean {
    const id = ev.correlationId ?? '?';
    for (const position of ev.data.calls) this.cancelledCalls.add(position);
    if (this.cancelReason) return false;
    const calls = this.cancelledScopes.get(id);
    const list = (positions: string[]) => (positions.length > 0 ? `calls ${positions.join(', ')}` : 'no pending call');
    if (!calls) this.fail(new NonDeterminismError(id, `a cancel() of ${id} (${list(ev.data.calls)})`, 'no cancel() of that scope at this point'));
    else if (calls.join() !== ev.data.calls.join()) this.fail(new NonDeterminismError(id, `a cancel() of ${id} (${list(ev.data.calls)})`, `a cancel() of ${id} with ${list(calls)}`));
    return false;
  }

  protected override async afterFlush(): Promise<void> {
    for (const stop of this.afterAppend.splice(0)) stop();
    await super.afterFlush();
  }

  protected override apply(ev: DurablyEvent): boolean {
    if (ev.type === 'child_completed' || ev.type === 'child_failed') {
      this.cancelChildren = this.cancelChildren.filter((c) => c.runId !== ev.data.childRunId);
    } else if (ev.correlationId !== undefined && this.cancelledCalls.has(ev.correlationId.split('/')[0])) {
      return false; // cancelled with its scope: whatever came after is not the code's to see
    }
    return super.apply(ev);
  }

  /** Resolves when the run is asked to cancel (at once if it was); recorded by cancel_requested, so replays see it at the same point. */
  cancelRequested(): Promise<{ reason?: string }> {
    if (this.cancelReason) return Promise.resolve({ ...this.cancelReason });
    if (!this.cancelNotice) {
      let resolve!: (value: { reason?: string }) => void;
      const promise = new Promise<{ reason?: string }>((r) => (resolve = r));
      this.cancelNotice = { promise, resolve };
    }
    return this.cancelNotice.promise;
  }

  /**
   * Cancels the run (a `cancel_requested`): every pending call that is not shielded is settled with
   * CancelledError, the attempts of its steps are dropped, and `cancelRequested()` resolves.
   */
  protected requestCancel(reason?: string): void {
    if (this.cancelReason) return;
    this.cancelReason = { reason };
    const error = new CancelledError(reason);
    for (const cmd of [...this.commands.values()]) {
      if (cmd.settled || cmd.shielded) continue;
      cmd.abort?.abort(error);
      if (cmd.kind === 'step') this.dropClaim(cmd, error);
      this.settle(cmd, { ok: false, error });
    }
    this.cancelNotice?.resolve({ ...this.cancelReason });
  }

  /**
   * The step's attempt will not be recorded by this execution (cancelled, or the run ended): its lease
   * timer goes with the next append, its running body is no longer renewed, and its signal fires.
   */
  protected dropClaim(cmd: StepCommand, reason: unknown): void {
    if (cmd.inflight) {
      cmd.abort?.abort(reason);
      this.deps.attempts?.release(this.runId, cmd.id);
    }
    if (cmd.claim) this.dropTimer(leaseTimerId(cmd.id));
    cmd.claim = undefined;
  }

  /** Fires the abort signal of running (unshielded) attempts: the run was cancelled elsewhere. */
  abortInflight(reason?: string): void {
    const error = new CancelledError(reason);
    for (const cmd of this.commands.values()) if (cmd.kind === 'step' && cmd.inflight && !cmd.shielded) cmd.abort?.abort(error);
  }
}
