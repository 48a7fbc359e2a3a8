import {
  type DurablyEvent,
  type EventOf,
  type ParentClosePolicy,
  DurablyError,
  HookTimeoutError,
  SignalTimeoutError,
  ChildWorkflowFailedError,
  NonDeterminismError,
  StepFailedError,
  deserialize,
  objectToError,
  type Serialized,
} from '@durably/contracts';
import { StepCommand, drain, type Command, type CommandOf, type ConditionCommand } from './commands.js';
import { traceOf } from '../observe/trace-context.js';
import { lastSeqWrittenByExecution } from './replay-logger.js';
import { leaseTimerId } from './claims.js';
import { describeIdentity, identityOf, isStepHook, splitStepHook } from './call-identity.js';
import { RunBatch, type SignalHandler } from './batch.js';
import type { CancelScope } from './cancel-scope.js';

/**
 * Applying the log: `feed` indexes the events, starts the workflow function and settles its calls
 * from the recorded outcomes, one event at a time, so the code sees them in the order they were first
 * recorded; a logged call the code does not make is a NonDeterminismError.
 */
export abstract class Replay extends RunBatch {
  /** A child started at `position` whose handle the workflow holds (calls.ts). */
  /** Calls the workflow function in the scope of this execution (calls.ts). */
  protected abstract startFunction(args: unknown[]): void;

  /** Runs a signal handler set by onSignal on one payload, in its scope (calls.ts). */
  protected abstract runSignalHandler(entry: SignalHandler, payload: unknown): void;

  /** Applies update_requested / _completed / _failed / _rejected (updates.ts); true when a handler ran. */
  protected abstract applyUpdate(ev: DurablyEvent): boolean;

  protected abstract trackChild(position: string, runId: string, workflow: string, policy: ParentClosePolicy, scope: CancelScope | undefined): { runId: string; result: Promise<unknown> };

  /** Checks a logged scope cancellation against the code's (scope-cancellation.ts). */
  protected abstract applyScopeCancelled(ev: EventOf<'scope_cancelled'>): boolean;

  /** Cancels the run: every pending call that is not shielded is settled with CancelledError (scope-cancellation.ts). */
  protected abstract requestCancel(reason?: string): void;

  /**
   * Applies events in seq order (the whole log on replay; only the new tail for a cached execution)
   * and starts the workflow function on the first call.
   */
  async feed(events: DurablyEvent[]): Promise<void> {
    for (const ev of events) this.index(ev);
    // Code re-running up to the last event this run's own execution wrote ran before: it logs nothing.
    const replayUntil = lastSeqWrittenByExecution(events, this.dispatchedIds, this.seq);
    this.replaying = replayUntil > this.seq;
    if (!this.started) {
      this.started = true;
      const first = events[0];
      if (!first || first.type !== 'run_created') throw new DurablyError(`Run ${this.runId}: the log does not start with run_created.`);
      this.seq = 1;
      this.parentLink = first.data.parent;
      this.nesting = first.data.nesting;
      this.trace = traceOf(first.data);
      if (first.data.scheduledAt !== undefined) this.scheduled = { at: first.data.scheduledAt, scheduleId: first.data.scheduleId };
      // Signals the previous run of a continueAsNew chain received but did not consume.
      for (const carried of first.data.carriedSignals ?? []) this.deliverSignal(carried.name, carried.payload);
      if (this.def.maxDurationMs !== undefined) this.liveTimers.add('deadline');
      this.startFunction(deserialize<unknown[]>(first.data.args));
      await this.quiesce();
    }
    for (const ev of events) {
      if (ev.seq <= this.seq) continue;
      if (ev.seq !== this.seq + 1) throw new DurablyError(`Run ${this.runId}: gap in the log at seq ${this.seq + 1} (got ${ev.seq}).`);
      this.seq = ev.seq;
      if (this.fatal) continue;
      this.replaying = ev.seq <= replayUntil;
      if (this.apply(ev)) await this.quiesce();
    }
    this.replaying = false;
    this.logged.clear();
    this.loggedData.clear();
    this.loggedClosed.clear();
  }

  protected index(ev: DurablyEvent): void {
    if (ev.seq <= this.seq || ev.correlationId === undefined) return;
    const identity = identityOf(ev);
    if (identity && !this.logged.has(ev.correlationId)) this.logged.set(ev.correlationId, identity);
    if (ev.type === 'value_recorded' || ev.type === 'hook_created' || ev.type === 'signal_wait_cancelled' || ev.type === 'attributes_set' || ev.type === 'scope_cancelled') this.loggedData.set(ev.correlationId, ev);
    if (ev.type === 'hook_closed') this.loggedClosed.add(ev.correlationId);
  }

  /**
   * Lets the code run until it blocks, then tests the pending conditions (their predicates read what
   * the code just changed) and lets the code run on after each that resolved. Live and replay both
   * come here after every outcome they apply, so a condition resolves at the same point of the log.
   */
  protected async quiesce(): Promise<void> {
    await drain();
    while (!this.fatal && this.checkConditions()) await drain();
  }

  /** Resolves the pending conditions whose predicate holds now; true when one did. */
  protected checkConditions(): boolean {
    let resolved = false;
    for (const cmd of [...this.commands.values()]) if (cmd.kind === 'condition' && !cmd.settled && this.testCondition(cmd)) resolved = true;
    return resolved;
  }

  /** Settles the condition when its predicate holds (true) or throws (the error); its timer goes. */
  protected testCondition(cmd: ConditionCommand): boolean {
    let holds: boolean;
    try {
      holds = Boolean(cmd.predicate());
    } catch (error) {
      this.dropTimer(`condition:${cmd.id}`);
      this.settle(cmd, { ok: false, error });
      return true;
    }
    if (!holds) return false;
    this.dropTimer(`condition:${cmd.id}`);
    this.settle(cmd, { ok: true, value: true });
    return true;
  }

  /** Applies one logged event; returns true when it settled a command (the code may move on). */
  protected apply(ev: DurablyEvent): boolean {
    switch (ev.type) {
      case 'run_interrupted':
        this.interruptions = ev.data.attempt;
        return false;
      case 'run_created':
      case 'run_started':
      case 'run_waiting':
      case 'run_completed':
      case 'run_failed':
      case 'run_cancelled':
        return false;
      case 'step_scheduled': {
        const cmd = this.expect(ev, 'step', ev.data.name);
        if (cmd) {
          cmd.scheduled = true;
          cmd.scheduledSeq = ev.seq;
        }
        return false;
      }
      case 'step_started': {
        // Not an outcome: the code moves on only when the attempt ends. Recorded here as the attempt
        // in flight, which advance() adopts, leaves to its live owner, or takes over (claims.ts).
        const cmd = this.expect(ev, 'step', ev.data.name);
        if (cmd) {
          cmd.claim = { attempt: ev.data.attempt, workerId: ev.data.workerId, seq: ev.seq, leaseUntil: ev.data.leaseUntil };
          cmd.firstStart ??= { seq: ev.seq, at: ev.at };
          this.liveTimers.add(leaseTimerId(cmd.id));
        }
        return false;
      }
      case 'step_failed': {
        const cmd = this.expect(ev, 'step', ev.data.name);
        if (!cmd) return false;
        this.endClaim(cmd);
        cmd.attempts = ev.data.attempt;
        if (ev.data.retryAt !== undefined) {
          cmd.retryAt = ev.data.retryAt;
          this.liveTimers.add(`retry:${cmd.id}`);
          return false;
        }
        this.liveTimers.delete(`retry:${cmd.id}`);
        this.settle(cmd, { ok: false, error: new StepFailedError(cmd.name, ev.data.attempt, objectToError(ev.data.error)) });
        return true;
      }
      case 'step_completed': {
        const cmd = this.expect(ev, 'step', ev.data.name);
        if (!cmd) return false;
        this.endClaim(cmd);
        cmd.attempts = ev.data.attempt;
        this.liveTimers.delete(`retry:${cmd.id}`);
        this.settle(cmd, { ok: true, value: deserialize(ev.data.result) });
        return true;
      }
      case 'sleep_started': {
        const cmd = this.expect(ev, 'sleep', 'sleep');
        if (cmd) {
          cmd.started = true;
          cmd.wakeAt = ev.data.wakeAt;
          this.liveTimers.add(`sleep:${cmd.id}`);
        }
        return false;
      }
      case 'sleep_completed': {
        const cmd = this.expect(ev, 'sleep', 'sleep');
        if (!cmd) return false;
        this.liveTimers.delete(`sleep:${cmd.id}`);
        this.settle(cmd, { ok: true, value: undefined });
        return true;
      }
      case 'value_recorded':
        // Returned synchronously at the call (its kind checked there); here only that the code got that far.
        if (Number(ev.correlationId) > this.counter && !this.cancelReason) {
          this.fail(new NonDeterminismError(ev.correlationId ?? '?', `context value "${ev.data.kind}"`, 'no call at this position (the code ended or waits on something else)'));
        }
        return false;
      case 'cancel_requested':
        this.requestCancel(ev.data.reason);
        return true;
      case 'run_continued':
        return false;
      case 'hook_created': {
        if (isStepHook(ev.correlationId)) return this.applyStepHook(ev);
        const cmd = this.expect(ev, 'hook', ev.data.name);
        if (cmd) {
          cmd.started = true;
          cmd.timeoutAt = ev.data.expiresAt;
          cmd.hookCreatedAt = ev.at;
          if (cmd.timeoutAt !== undefined) this.liveTimers.add(`hook:${cmd.id}`);
        }
        return false;
      }
      case 'hook_received':
      case 'hook_timed_out': {
        if (isStepHook(ev.correlationId)) return this.applyStepHook(ev);
        const cmd = this.expectKind(ev, 'hook');
        if (!cmd) return false;
        if (cmd.inbox) return this.applyMultiUse(cmd, ev);
        // A payload written by resumeHook leaves the hook's timeout timer in storage: clear it with the next append.
        if (ev.type === 'hook_received') this.dropTimer(`hook:${cmd.id}`);
        else this.liveTimers.delete(`hook:${cmd.id}`);
        if (ev.type === 'hook_received') this.settle(cmd, { ok: true, value: deserialize(ev.data.payload) });
        else this.settle(cmd, { ok: false, error: new HookTimeoutError(`Hook "${cmd.name}" timed out before it was resumed.`) });
        return true;
      }
      case 'hook_closed': {
        // The code closed the hook before this event (calls.ts): a hook still open here was not closed by it.
        const id = ev.correlationId ?? '?';
        const cmd = this.commands.get(id);
        if (cmd?.kind === 'hook' && cmd.closed) this.commands.delete(id);
        else if (cmd && !this.cancelReason) this.fail(new NonDeterminismError(id, `hook "${ev.data.name}" closed`, cmd.kind === 'hook' ? `${cmd.describe()} not closed` : cmd.describe()));
        return false;
      }
      case 'signal_received':
        return this.deliverSignal(ev.data.name, ev.data.payload);
      case 'signal_waiting': {
        const cmd = this.expect(ev, 'signal', ev.data.name);
        if (cmd) {
          cmd.started = true;
          cmd.timeoutAt = ev.data.timeoutAt;
          if (cmd.timeoutAt !== undefined) this.liveTimers.add(`signal:${cmd.id}`);
        }
        return false;
      }
      case 'signal_timed_out': {
        const cmd = this.expect(ev, 'signal', ev.data.name);
        if (!cmd) return false;
        this.liveTimers.delete(`signal:${cmd.id}`);
        this.settle(cmd, { ok: false, error: new SignalTimeoutError(`No signal "${cmd.name}" arrived before the timeout.`) });
        return true;
      }
      case 'signal_wait_cancelled': {
        // The code cancelled the wait before this event (calls.ts): a wait still pending here was not cancelled by it.
        const id = ev.correlationId ?? '?';
        const cmd = this.commands.get(id);
        if (cmd && !this.cancelReason) this.fail(new NonDeterminismError(id, `waitForSignal("${ev.data.name}") cancelled`, cmd.kind === 'signal' ? `${cmd.describe()} not cancelled` : cmd.describe()));
        return false;
      }
      case 'scope_cancelled':
        return this.applyScopeCancelled(ev);
      case 'condition_waiting': {
        const cmd = this.expect(ev, 'condition', 'condition');
        if (cmd) {
          cmd.started = true;
          cmd.timeoutAt = ev.data.timeoutAt;
          this.liveTimers.add(`condition:${cmd.id}`);
        }
        return false;
      }
      case 'condition_timed_out': {
        const cmd = this.expect(ev, 'condition', 'condition');
        if (!cmd) return false;
        this.liveTimers.delete(`condition:${cmd.id}`);
        this.settle(cmd, { ok: true, value: false });
        return true;
      }
      case 'child_started': {
        const cmd = this.expect(ev, 'child', ev.data.workflow);
        if (!cmd) return false;
        this.settle(cmd, { ok: true, value: this.trackChild(cmd.id, ev.data.childRunId, ev.data.workflow, ev.data.parentClosePolicy, cmd.scope) });
        return true;
      }
      case 'child_completed':
      case 'child_failed': {
        const child = this.children.get(ev.correlationId ?? '?');
        if (!child) {
          if (!this.cancelReason) this.fail(new NonDeterminismError(ev.correlationId ?? '?', 'a child workflow', 'no startChild call at this position'));
          return false;
        }
        child.done = true;
        if (ev.type === 'child_completed') child.resolve(deserialize(ev.data.result));
        else child.reject(new ChildWorkflowFailedError(child.runId, child.workflow, objectToError(ev.data.error)));
        return true;
      }
      case 'update_requested':
      case 'update_completed':
      case 'update_failed':
      case 'update_rejected':
        return this.applyUpdate(ev);
      case 'patch_marker':
        if (Number(ev.correlationId) > this.counter && !this.cancelReason) {
          this.fail(new NonDeterminismError(ev.correlationId ?? '?', `patched("${ev.data.patchId}")`, 'no call at this position (the code ended or waits on something else)'));
        }
        return false;
      case 'attributes_set':
        // Checked against the call's attributes at the call (calls.ts); here only that the code got that far.
        if (Number(ev.correlationId) > this.counter && !this.cancelReason) {
          this.fail(new NonDeterminismError(ev.correlationId ?? '?', `setAttributes(${JSON.stringify(ev.data.attributes)})`, 'no call at this position (the code ended or waits on something else)'));
        }
        return false;
      default: {
        const unknown: never = ev;
        throw new DurablyError(`Unknown event type in the log: ${JSON.stringify((unknown as DurablyEvent).type)}`);
      }
    }
  }

  /** The command a logged event belongs to, or a NonDeterminismError when the code did not make that call. */
  protected expect<K extends Command['kind']>(ev: DurablyEvent, kind: K, name: string): CommandOf<K> | undefined {
    const id = ev.correlationId ?? '?';
    const cmd = this.commands.get(id);
    const recorded = describeIdentity(`${kind}:${name}`);
    if (!cmd) {
      // Settled commands are forgotten; their later events (none are written) would land here.
      if (this.cancelReason) return undefined;
      this.fail(new NonDeterminismError(id, recorded, 'no call at this position (the code ended or waits on something else)'));
      return undefined;
    }
    if (cmd.kind !== kind || cmd.name !== name) {
      this.fail(new NonDeterminismError(id, recorded, cmd.describe()));
      return undefined;
    }
    return cmd as CommandOf<K>;
  }

  /** Events of a step's hooks (correlation id `<stepId>/<hookName>`): suspend or resume the step. */
  protected applyStepHook(ev: DurablyEvent): boolean {
    const [stepId, name] = splitStepHook(ev.correlationId!);
    const cmd = this.commands.get(stepId);
    if (!cmd || cmd.kind !== 'step') {
      if (!this.cancelReason) this.fail(new NonDeterminismError(stepId, `a step hook "${name}"`, cmd ? cmd.describe() : 'no call at this position'));
      return false;
    }
    if (ev.type === 'hook_created') {
      this.endClaim(cmd);
      cmd.waitingHook = { name, token: ev.data.token, timeoutAt: ev.data.expiresAt };
      if (ev.data.expiresAt !== undefined) this.liveTimers.add(`hook:${ev.correlationId}`);
      return false;
    }
    this.liveTimers.delete(`hook:${ev.correlationId}`);
    cmd.waitingHook = undefined;
    cmd.hookOutcomes.set(name, ev.type === 'hook_received' ? { ok: true, value: deserialize(ev.data.payload) } : { ok: false, error: new HookTimeoutError(`Step hook "${name}" timed out before it was resumed.`) });
    return true;
  }

  /**
   * A payload or the timeout of a multi-use hook: a payload goes to its inbox (dropped when the code
   * closed the hook before it); the timeout ends the hook. The timeout timer stays until then.
   */
  protected applyMultiUse(cmd: CommandOf<'hook'>, ev: DurablyEvent): boolean {
    if (ev.type === 'hook_received') {
      if (!cmd.closed) cmd.inbox!.deliver(deserialize(ev.data.payload));
      return true;
    }
    this.liveTimers.delete(`hook:${cmd.id}`);
    this.settle(cmd, { ok: false, error: new HookTimeoutError(`Multi-use hook "${cmd.name}" timed out.`) });
    return true;
  }

  /** Like expect, for outcome events that carry no name (hook payloads). */
  protected expectKind<K extends Command['kind']>(ev: DurablyEvent, kind: K): CommandOf<K> | undefined {
    const cmd = this.commands.get(ev.correlationId ?? '?');
    if (cmd && cmd.kind === kind) return cmd as CommandOf<K>;
    if (this.cancelReason) return undefined;
    this.fail(new NonDeterminismError(ev.correlationId ?? '?', `a ${kind}`, cmd ? cmd.describe() : 'no call at this position'));
    return undefined;
  }

  /**
   * A signal goes to the handler of its name (onSignal), else to the earliest waiting waitForSignal
   * of its name, else waits in the buffer (a handler set later takes the buffered ones, in order).
   */
  protected deliverSignal(name: string, raw: Serialized): boolean {
    const handler = this.signalHandlers.get(name);
    if (handler) {
      this.runSignalHandler(handler, deserialize(raw));
      return true;
    }
    for (const cmd of this.commands.values()) {
      if (cmd.kind === 'signal' && cmd.name === name && !cmd.settled) {
        this.dropTimer(`signal:${cmd.id}`);
        this.settle(cmd, { ok: true, value: deserialize(raw) });
        return true;
      }
    }
    let queue = this.signalQueues.get(name);
    if (!queue) this.signalQueues.set(name, (queue = []));
    queue.push({ value: deserialize(raw), raw, order: this.signalOrder++ });
    return false;
  }

  /** Signals received and never consumed, in arrival order: continueAsNew hands them to the next run. */
  protected unconsumedSignals(): Array<{ name: string; payload: Serialized }> {
    const all: Array<{ name: string; payload: Serialized; order: number }> = [];
    for (const [name, queue] of this.signalQueues) for (const q of queue) all.push({ name, payload: q.raw, order: q.order });
    return all.sort((a, b) => a.order - b.order).map(({ name, payload }) => ({ name, payload }));
  }

  /** The step's attempt ended as the log says (its outcome was written with its lease timer's deletion). */
  protected endClaim(cmd: StepCommand): void {
    cmd.claim = undefined;
    this.liveTimers.delete(leaseTimerId(cmd.id));
  }
}
