import {
  makeEvent,
  type DurablyEvent,
  type EventDataMap,
  type ParentClosePolicy,
  type RunRecord,
  type RunStatus,
  type Timer,
  type Logger,
  AppendConflictError,
  type Serialized,
  type HookRecord,
  type Attributes,
  combineAttributePatches,
} from '@durably/contracts';
import type { WorkflowDefinition } from './definitions.js';
import { HookCommand, StepCommand, type Command } from './commands.js';
import type { TraceContext } from '../observe/instrumentation.js';
import { replayAwareLogger } from './replay-logger.js';
import type { AttemptOutcome } from './step-runner.js';
import { StaleExecutionError, type ExecutionDeps, type FlushEffects, type Pending } from './deps.js';
import type { Scope } from './scope.js';
import { hookIndexKey } from './hook-token.js';
import type { CancelScope } from './cancel-scope.js';

/** A handler of onSignal and the scope it was set in (its durable calls run there). */
export interface SignalHandler {
  handler: (payload: unknown) => unknown;
  scope: Scope | undefined;
}

/**
 * The state of one execution of a run and the batch it writes: the events queued for the next
 * conditional append, with the timers, hooks and run patch that go in the same append, and what must
 * happen outside storage once it is durable (FlushEffects). Replay (replay.ts), the durable calls
 * (calls.ts) and the live loop (execution.ts) build on it.
 */
export abstract class RunBatch {
  /** seq of the last event applied or appended. */
  seq = 0;

  status: RunStatus;

  readonly runId: string;

  readonly workflowName: string;

  readonly logger: Logger;

  protected counter = 0;

  /** True while the code re-runs what an earlier execution already ran (its logger is silent then). */
  protected replaying = false;

  /** Positions of steps dispatched through the broker (their outcomes are written by other workers). */
  protected readonly dispatchedIds = new Set<string>();

  protected readonly commands = new Map<string, Command>();

  /** Logged identities of calls not reached yet during replay: position -> "step:name" etc. */
  protected readonly logged = new Map<string, string>();

  /** Logged events whose data a call needs synchronously (context values, hook tokens), by position. */
  protected readonly loggedData = new Map<string, DurablyEvent>();

  /** Positions of the multi-use hooks the log shows closed (hook_closed): a replayed close() records nothing. */
  protected readonly loggedClosed = new Set<string>();

  /** Signals received and not yet consumed by a waitForSignal or a handler, by name; `order` is arrival order. */
  protected readonly signalQueues = new Map<string, Array<{ value: unknown; raw: Serialized; order: number }>>();

  /** Signal handlers set by the workflow code (onSignal), by signal name, with the scope they run in. */
  protected readonly signalHandlers = new Map<string, SignalHandler>();

  protected signalOrder = 0;

  /** The run's search attributes as its code has set them so far (setAttributes, replayed or new). */
  protected attributes: Attributes = {};

  protected setHooks: HookRecord[] = [];

  protected outbox: Pending[] = [];

  protected setTimers: Timer[] = [];

  protected clearTimers: string[] = [];

  protected newTimers: Timer[] = [];

  protected toDispatch: StepCommand[] = [];

  /** Steps whose attempts' outcomes the next append records: the worker stops renewing their leases once it is durable. */
  protected toRelease: string[] = [];

  protected readonly completed: Array<{ cmd: StepCommand; outcome: AttemptOutcome; attempt: number }> = [];

  /** An attempt the engine could not run (its preparation failed: storage away, the worker stopping): advance() throws it. */
  protected abandonedAttempt?: unknown;

  /** Wakes the loop while it waits on attempts (an outcome, a poke); set only while it waits. */
  protected wake?: () => void;

  protected poked = false;

  protected outcome?: { ok: true; value: unknown } | { ok: false; error: unknown };

  protected fatal?: Error;

  protected cancelReason?: { reason?: string };

  protected started = false;

  scheduled?: { at: number; scheduleId?: string };

  protected startRuns: FlushEffects['startRuns'] = [];

  /** Set for the final append: the run gives back its concurrency slot. */
  protected releaseSlots = false;

  protected closeChildren: FlushEffects['closeChildren'] = [];

  protected notifyParent?: FlushEffects['notifyParent'];

  /** The parent of a child run (from run_created). */
  protected parentLink?: EventDataMap['run_created']['parent'];
  /** From run_created: how deep this run nests and how deep its children may (absent in logs older than the limit). */
  protected nesting?: EventDataMap['run_created']['nesting'];

  /** Children started by this run, by the position of their startChild call. */
  protected readonly children = new Map<string, { runId: string; workflow: string; policy: ParentClosePolicy; done: boolean; resolve(v: unknown): void; reject(e: unknown): void; promise: Promise<unknown>; scope?: CancelScope; cancelled?: boolean }>();

  /** Children of cancelled scopes, to ask to cancel once the append is durable. */
  protected cancelChildren: FlushEffects['cancelChildren'] = [];

  /** Timers of this run that are (or may be) in storage: cleared when the run finishes. */
  protected readonly liveTimers = new Set<string>();

  constructor(
    readonly run: RunRecord,
    readonly def: WorkflowDefinition,
    protected readonly deps: ExecutionDeps,
  ) {
    this.runId = run.runId;
    this.workflowName = run.workflow;
    this.status = run.status;
    this.logger = replayAwareLogger(deps.logger.child({ runId: run.runId, workflow: run.workflow }), () => this.replaying);
  }

  /** The trace context stored with the run (run_created), if its creator had one. */
  trace?: TraceContext;

  /** Why the run failed, once its end is recorded (undefined otherwise). */
  failure?: unknown;

  get finished(): boolean {
    return this.outcome !== undefined || this.fatal !== undefined;
  }

  /** True when the run waits only on steps dispatched to other workers (worth caching). */
  get waitingOnDispatched(): boolean {
    for (const cmd of this.commands.values()) if (!cmd.settled && cmd.kind === 'step' && cmd.scheduled) return true;
    return false;
  }

  protected interruptions = 0;

  protected fail(error: Error): void {
    this.fatal ??= error;
    for (const cmd of this.commands.values()) cmd.reject(error);
  }

  protected settle(cmd: Command, outcome: AttemptOutcome): void {
    this.commands.delete(cmd.id);
    if (outcome.ok) cmd.resolve(outcome.value);
    else cmd.reject(outcome.error);
  }

  /** Queues an event for the next append, stamped with the time it happened. */
  protected push(pending: Pending): void {
    pending.at ??= this.deps.clock();
    this.outbox.push(pending);
  }

  protected hookRecord(cmd: HookCommand): HookRecord {
    const record: HookRecord = { token: hookIndexKey(cmd.token), runId: this.runId, correlationId: cmd.id, name: cmd.name, createdAt: cmd.hookCreatedAt ?? this.deps.clock() };
    if (cmd.timeoutAt !== undefined) record.expiresAt = cmd.timeoutAt;
    return record;
  }

  /** Writes a timer with the next append and publishes its wake-up after it. */
  protected addTimer(timerId: string, fireAt: number): void {
    const timer = { runId: this.runId, timerId, fireAt };
    this.storeTimer(timer);
    this.newTimers.push(timer);
  }

  /** Writes a timer with the next append, replacing a deletion of the same timer queued in this batch. */
  protected storeTimer(timer: Timer): void {
    this.clearTimers = this.clearTimers.filter((id) => id !== timer.timerId);
    this.setTimers = this.setTimers.filter((t) => t.timerId !== timer.timerId);
    this.setTimers.push(timer);
    this.liveTimers.add(timer.timerId);
  }

  /** Deletes a timer with the next append; one not yet written is simply not written. */
  protected dropTimer(timerId: string): void {
    if (!this.liveTimers.delete(timerId)) return;
    const pending = this.setTimers.findIndex((t) => t.timerId === timerId);
    if (pending >= 0) {
      this.setTimers.splice(pending, 1);
      this.newTimers = this.newTimers.filter((t) => t.timerId !== timerId);
    } else {
      this.clearTimers.push(timerId);
    }
  }

  protected abandoned = false;

  /** The worker handed this run back: nothing more is written from here. */
  abandon(): void {
    this.abandoned = true;
  }

  /** One conditional append of everything pending. A no-op when nothing changed. */
  protected async flush(status: RunStatus, patch: Record<string, unknown> = {}): Promise<void> {
    if (this.abandoned) throw new StaleExecutionError(`Run ${this.runId} was handed back to another worker.`);
    if (this.outbox.length === 0 && status === this.status && this.setTimers.length === 0 && this.clearTimers.length === 0 && this.setHooks.length === 0) {
      await this.afterFlush();
      return;
    }
    const at = this.deps.clock();
    const events = this.outbox.map((p, i) => makeEvent(this.runId, this.seq + 1 + i, p.type, p.data as never, p.correlationId, p.at ?? at) as DurablyEvent);
    for (const ev of events) {
      if (ev.type === 'step_scheduled') {
        const cmd = this.commands.get(ev.correlationId!);
        if (cmd?.kind === 'step') cmd.scheduledSeq = ev.seq;
      } else if (ev.type === 'step_started') {
        const cmd = this.commands.get(ev.correlationId!);
        if (cmd?.kind === 'step') {
          cmd.claim = { attempt: ev.data.attempt, workerId: ev.data.workerId, seq: ev.seq, leaseUntil: ev.data.leaseUntil };
          cmd.firstStart ??= { seq: ev.seq, at: ev.at };
        }
      }
    }
    // The record's attributes change in the same append as the attributes_set events that say so.
    const attributes = combineAttributePatches(events.flatMap((ev) => (ev.type === 'attributes_set' ? [ev.data.attributes] : [])));
    try {
      await this.deps.storage.append({
        runId: this.runId,
        expectedSeq: this.seq,
        events,
        run: { status, ...patch, ...(attributes ? { attributes } : {}) },
        setTimers: this.setTimers.length ? this.setTimers : undefined,
        clearTimers: this.clearTimers.length ? this.clearTimers : undefined,
        setHooks: this.setHooks.length ? this.setHooks : undefined,
        releaseSlots: this.releaseSlots || undefined,
      });
    } catch (err) {
      if (err instanceof AppendConflictError) throw new StaleExecutionError(`Run ${this.runId} was advanced by another writer.`, { cause: err });
      throw err;
    }
    this.seq += events.length;
    this.status = status;
    this.outbox = [];
    this.setTimers = [];
    this.clearTimers = [];
    this.setHooks = [];
    const tracker = this.deps.attempts;
    if (tracker) {
      tracker.seen(this.runId, this.seq);
      for (const stepId of this.toRelease) tracker.release(this.runId, stepId);
    }
    this.toRelease = [];
    await this.afterFlush();
  }

  protected async afterFlush(): Promise<void> {
    if (this.toDispatch.length === 0 && this.newTimers.length === 0 && this.startRuns.length === 0 && this.closeChildren.length === 0 && this.cancelChildren.length === 0 && !this.notifyParent) return;
    const effects: FlushEffects = {
      runId: this.runId,
      queue: this.run.queue,
      seq: this.seq,
      dispatched: this.toDispatch,
      timers: this.newTimers,
      startRuns: this.startRuns,
      closeChildren: this.closeChildren,
      cancelChildren: this.cancelChildren,
      notifyParent: this.notifyParent,
    };
    this.toDispatch = [];
    this.newTimers = [];
    this.startRuns = [];
    this.closeChildren = [];
    this.cancelChildren = [];
    this.notifyParent = undefined;
    await this.deps.afterFlush(effects);
  }
}
