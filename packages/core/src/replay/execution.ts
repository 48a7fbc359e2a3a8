/**
 * The replay loop. Read this file top to bottom to know how a run advances.
 *
 * 1. `start()` calls the workflow function inside an AsyncLocalStorage scope. Every durable call it
 *    makes (step, sleep, context value) becomes a Command identified by its position: "1", "2", ...
 * 2. `feed(events)` applies the run's log in seq order. An outcome event (step completed, sleep
 *    completed, ...) settles its command, and the loop lets the workflow run on (`drain`) before the
 *    next event, so the code sees outcomes in exactly the order they were first recorded. A logged
 *    call that the code does not make, or makes differently, is a NonDeterminismError.
 * 3. `advance()` takes over where the log ends: it records the new commands, runs inline step
 *    attempts, resolves due sleeps, and appends what happened with one conditional append per batch.
 *    Nothing leaves the process (a step attempt, a broker message, a finished run) before the events
 *    that lead to it are durable, so a crash at any instant resumes from the log.
 * 4. When nothing can progress in this process (every pending call waits on a timer or on a step
 *    dispatched elsewhere), the run suspends: its status is written and the execution is dropped (or
 *    kept in the worker's small cache while it waits for dispatched steps, to skip the next replay).
 *
 * Cost: a live execution appends one batch per step completion and never re-reads its history; a
 * full replay is O(history) and happens only when a run resumes on a worker without it cached.
 */
import {
  makeEvent,
  type DurablyEvent,
  type EventDataMap,
  type EventType,
  type ParentClosePolicy,
  type RunRecord,
  type RunStatus,
  type Storage,
  type Timer,
  type Logger,
  parseDuration,
  type Duration,
  AppendConflictError,
  CancelledError,
  DurablyError,
  HookTimeoutError,
  SignalTimeoutError,
  ChildWorkflowFailedError,
  WorkflowTimeoutError,
  WorkerLostError,
  FatalError,
  InvalidArgumentError,
  NonDeterminismError,
  RetryableError,
  SerializationError,
  StepFailedError,
  deserialize,
  errorToObject,
  objectToError,
  serialize,
  type Serialized,
  checkPayload,
  DEFAULT_LIMITS,
  type Limits,
  EventLimitExceededError,
  type HookRecord,
} from '@durably/contracts';
import type { StepDefinition, WorkflowDefinition } from '../definitions.js';
import type { WorkflowRuntime } from '../context.js';
import { currentScope, runInScope } from '../context.js';
import { backoffDelay, resolveRetryPolicy, type RetryPolicy } from '../retry.js';
import { Command, describeCall, drain } from './commands.js';
import { StepSuspended } from '../step-hooks.js';
import { randomBytes, randomUUID } from 'node:crypto';
import { ContinueAsNew } from '../hooks.js';
import type { TraceContext } from '../observe/instrumentation.js';
import { traceOf } from '../observe/trace-context.js';
import { lastSeqWrittenByExecution, replayAwareLogger } from './replay-logger.js';
import { leaseTimerId, type AttemptTracker } from './claims.js';
import { nextDueAt } from './due.js';

export type AttemptOutcome = { ok: true; value: unknown } | { ok: false; error: unknown };

export interface AttemptRequest {
  runId: string;
  stepId: string;
  def: StepDefinition;
  args: unknown[];
  attempt: number;
  policy: RetryPolicy;
  /** Fired when the run is cancelled while the attempt runs. */
  signal?: AbortSignal;
  /** Outcomes of the step's hooks so far (stepHook). */
  hookOutcomes?: Map<string, { ok: true; value: unknown } | { ok: false; error: unknown }>;
  /** seq of the attempt's `step_started`. */
  claimSeq?: number;
}

export interface ExecutionDeps {
  storage: Storage;
  logger: Logger;
  workerId: string;
  clock: () => number;
  /** true when the step runs in this worker's process, false when it is dispatched through the broker. */
  runsInline(def: StepDefinition): boolean;
  /** Retry delays up to this long are waited in-process; longer ones suspend the run on a timer. */
  inlineRetryMaxMs: number;
  limits?: Limits;
  runAttempt(request: AttemptRequest): Promise<AttemptOutcome>;
  /** Side effects of a durable batch: step tasks to publish, timers to schedule wake-ups for. */
  afterFlush(effects: FlushEffects): Promise<void>;
  /** How long a step attempt's lease lasts without renewal (see claims.ts). Default 5 s. */
  stepLeaseMs?: number;
  /** The worker's running attempts: adopted across replays, their leases renewed. Without it, attempts belong to this execution. */
  attempts?: AttemptTracker;
  /** Told when this execution takes over an attempt whose worker was lost or handed it back (the worker reports it; without it, a log line). */
  onTakeover?(detail: { runId: string; step: string; stepId: string; attempt: number; previousWorker: string; handedBack: boolean }): void;
}

/** What must happen outside storage once a batch is durable. */
export interface FlushEffects {
  runId: string;
  queue: string;
  dispatched: Command[];
  timers: Timer[];
  /** Runs created by this run (continuation, children) whose start tasks must be published. */
  startRuns: Array<{ runId: string; queue: string }>;
  /** Children still running when this run ended, with what to do to them. */
  closeChildren: Array<{ runId: string; policy: ParentClosePolicy }>;
  /** This run is a child that ended: its outcome goes to the parent's log. */
  notifyParent?: { parentRunId: string; correlationId: string; event: { type: 'child_completed' | 'child_failed'; data: EventDataMap['child_completed'] | EventDataMap['child_failed'] } };
}

/** Thrown out of `advance()` when another writer appended first: drop this execution and replay. */
export class StaleExecutionError extends DurablyError {}

/** Default `stepLease`: a step attempt whose worker stops renewing it for this long is taken over. */
export const DEFAULT_STEP_LEASE_MS = 5000;
/** setTimeout's longest delay; a later due time is looked at again then. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** `owned`: an attempt of the run runs in another live worker, which advances the run; nothing was written. */
export type AdvanceResult = 'finished' | 'suspended' | 'owned';

type Pending = { type: EventType; data: unknown; correlationId?: string; at?: number };

export class Execution implements WorkflowRuntime {
  /** seq of the last event applied or appended. */
  seq = 0;
  status: RunStatus;
  readonly runId: string;
  readonly workflowName: string;
  readonly logger: Logger;

  private counter = 0;
  /** True while the code re-runs what an earlier execution already ran (its logger is silent then). */
  private replaying = false;
  /** Positions of steps dispatched through the broker (their outcomes are written by other workers). */
  private readonly dispatchedIds = new Set<string>();
  private readonly commands = new Map<string, Command>();
  /** Logged identities of calls not reached yet during replay: position -> "step:name" etc. */
  private readonly logged = new Map<string, string>();
  /** Logged events whose data a call needs synchronously (context values, hook tokens), by position. */
  private readonly loggedData = new Map<string, DurablyEvent>();
  /** Signals received and not yet taken by a waitForSignal, per name, in log order. */
  /** Signals received and not yet consumed by a waitForSignal, by name; `order` is arrival order. */
  private readonly signalQueues = new Map<string, Array<{ value: unknown; raw: Serialized; order: number }>>();
  private signalOrder = 0;
  private setHooks: HookRecord[] = [];
  private outbox: Pending[] = [];
  private setTimers: Timer[] = [];
  private clearTimers: string[] = [];
  private newTimers: Timer[] = [];
  private toDispatch: Command[] = [];
  /** Steps whose attempts' outcomes the next append records: the worker stops renewing their leases once it is durable. */
  private toRelease: string[] = [];
  private readonly completed: Array<{ cmd: Command; outcome: AttemptOutcome; attempt: number }> = [];
  /** Wakes the loop while it waits on attempts (an outcome, a poke); set only while it waits. */
  private wake?: () => void;
  private poked = false;
  private outcome?: { ok: true; value: unknown } | { ok: false; error: unknown };
  private fatal?: Error;
  private cancelReason?: { reason?: string };
  private started = false;
  scheduled?: { at: number; scheduleId?: string };
  private startRuns: FlushEffects['startRuns'] = [];
  /** Set for the final append: the run gives back its concurrency slot. */
  private releaseSlots = false;
  private closeChildren: FlushEffects['closeChildren'] = [];
  private notifyParent?: FlushEffects['notifyParent'];
  /** The parent of a child run (from run_created). */
  private parentLink?: EventDataMap['run_created']['parent'];
  /** Children started by this run, by the position of their startChild call. */
  private readonly children = new Map<string, { runId: string; workflow: string; policy: ParentClosePolicy; done: boolean; resolve(v: unknown): void; reject(e: unknown): void; promise: Promise<unknown> }>();
  /** Timers of this run that are (or may be) in storage: cleared when the run finishes. */
  private readonly liveTimers = new Set<string>();

  constructor(
    readonly run: RunRecord,
    readonly def: WorkflowDefinition,
    private readonly deps: ExecutionDeps,
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
      this.trace = traceOf(first.data);
      if (first.data.scheduledAt !== undefined) this.scheduled = { at: first.data.scheduledAt, scheduleId: first.data.scheduleId };
      // Signals the previous run of a continueAsNew chain received but did not consume.
      for (const carried of first.data.carriedSignals ?? []) this.deliverSignal(carried.name, carried.payload);
      if (this.def.maxDurationMs !== undefined) this.liveTimers.add('deadline');
      this.startFunction(deserialize<unknown[]>(first.data.args));
      await drain();
    }
    for (const ev of events) {
      if (ev.seq <= this.seq) continue;
      if (ev.seq !== this.seq + 1) throw new DurablyError(`Run ${this.runId}: gap in the log at seq ${this.seq + 1} (got ${ev.seq}).`);
      this.seq = ev.seq;
      if (this.fatal) continue;
      this.replaying = ev.seq <= replayUntil;
      if (this.apply(ev)) await drain();
    }
    this.replaying = false;
    this.logged.clear();
    this.loggedData.clear();
  }

  private index(ev: DurablyEvent): void {
    if (ev.seq <= this.seq || ev.correlationId === undefined) return;
    const identity = identityOf(ev);
    if (identity && !this.logged.has(ev.correlationId)) this.logged.set(ev.correlationId, identity);
    if (ev.type === 'value_recorded' || ev.type === 'hook_created') this.loggedData.set(ev.correlationId, ev);
  }

  private startFunction(args: unknown[]): void {
    const promise = runInScope({ kind: 'workflow', execution: this }, () => {
      try {
        return Promise.resolve(this.def.fn(...args));
      } catch (err) {
        return Promise.reject(err);
      }
    });
    promise.then(
      (value) => (this.outcome ??= { ok: true, value }),
      (error) => (this.outcome ??= { ok: false, error }),
    );
  }

  /** Applies one logged event; returns true when it settled a command (the code may move on). */
  private apply(ev: DurablyEvent): boolean {
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
        // A payload written by resumeHook leaves the hook's timeout timer in storage: clear it with the next append.
        if (ev.type === 'hook_received') this.dropTimer(`hook:${cmd.id}`);
        else this.liveTimers.delete(`hook:${cmd.id}`);
        if (ev.type === 'hook_received') this.settle(cmd, { ok: true, value: deserialize(ev.data.payload) });
        else this.settle(cmd, { ok: false, error: new HookTimeoutError(`Hook "${cmd.name}" timed out before it was resumed.`) });
        return true;
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
      case 'child_started': {
        const cmd = this.expect(ev, 'child', ev.data.workflow);
        if (!cmd) return false;
        this.settle(cmd, { ok: true, value: this.trackChild(cmd.id, ev.data.childRunId, ev.data.workflow, ev.data.parentClosePolicy) });
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
      case 'patch_marker':
        if (Number(ev.correlationId) > this.counter && !this.cancelReason) {
          this.fail(new NonDeterminismError(ev.correlationId ?? '?', `patched("${ev.data.patchId}")`, 'no call at this position (the code ended or waits on something else)'));
        }
        return false;
      default: {
        const unknown: never = ev;
        throw new DurablyError(`Unknown event type in the log: ${JSON.stringify((unknown as DurablyEvent).type)}`);
      }
    }
  }

  /** The command a logged event belongs to, or a NonDeterminismError when the code did not make that call. */
  private expect(ev: DurablyEvent, kind: Command['kind'], name: string): Command | undefined {
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
    return cmd;
  }

  /** Events of a step's hooks (correlation id `<stepId>/<hookName>`): suspend or resume the step. */
  private applyStepHook(ev: DurablyEvent): boolean {
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

  /** Like expect, for outcome events that carry no name (hook payloads). */
  private expectKind(ev: DurablyEvent, kind: Command['kind']): Command | undefined {
    const cmd = this.commands.get(ev.correlationId ?? '?');
    if (cmd && cmd.kind === kind) return cmd;
    if (this.cancelReason) return undefined;
    this.fail(new NonDeterminismError(ev.correlationId ?? '?', `a ${kind}`, cmd ? cmd.describe() : 'no call at this position'));
    return undefined;
  }

  /** A signal goes to the earliest waiting waitForSignal of its name, or waits in the buffer. */
  private deliverSignal(name: string, raw: Serialized): boolean {
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
  private unconsumedSignals(): Array<{ name: string; payload: Serialized }> {
    const all: Array<{ name: string; payload: Serialized; order: number }> = [];
    for (const [name, queue] of this.signalQueues) for (const q of queue) all.push({ name, payload: q.raw, order: q.order });
    return all.sort((a, b) => a.order - b.order).map(({ name, payload }) => ({ name, payload }));
  }

  private fail(error: Error): void {
    this.fatal ??= error;
    for (const cmd of this.commands.values()) cmd.reject(error);
  }

  private settle(cmd: Command, outcome: AttemptOutcome): void {
    this.commands.delete(cmd.id);
    if (outcome.ok) cmd.resolve(outcome.value);
    else cmd.reject(outcome.error);
  }

  /** The step's attempt ended as the log says (its outcome was written with its lease timer's deletion). */
  private endClaim(cmd: Command): void {
    cmd.claim = undefined;
    this.liveTimers.delete(leaseTimerId(cmd.id));
  }

  /**
   * The step's attempt will not be recorded by this execution (cancelled, or the run ended): its lease
   * timer goes with the next append, its running body is no longer renewed, and its signal fires.
   */
  private dropClaim(cmd: Command, reason: unknown): void {
    if (cmd.inflight) {
      cmd.abort?.abort(reason);
      this.deps.attempts?.release(this.runId, cmd.id);
    }
    if (cmd.claim) this.dropTimer(leaseTimerId(cmd.id));
    cmd.claim = undefined;
  }

  private requestCancel(reason?: string): void {
    if (this.cancelReason) return;
    this.cancelReason = { reason };
    const error = new CancelledError(reason);
    for (const cmd of [...this.commands.values()]) {
      if (cmd.settled || cmd.shielded) continue;
      cmd.abort?.abort(error);
      if (cmd.kind === 'step') this.dropClaim(cmd, error);
      this.settle(cmd, { ok: false, error });
    }
  }

  /** Fires the abort signal of running (unshielded) attempts: the run was cancelled elsewhere. */
  abortInflight(reason?: string): void {
    const error = new CancelledError(reason);
    for (const cmd of this.commands.values()) if (cmd.inflight && !cmd.shielded) cmd.abort?.abort(error);
  }

  // ---- Durable calls made by workflow code (WorkflowRuntime) ----

  private newCommand(kind: Command['kind'], name: string): Command {
    const id = String(++this.counter);
    const cmd = new Command(id, kind, name);
    const scope = currentScope();
    cmd.shielded = scope?.kind === 'workflow' && scope.shielded === true;
    const logged = this.logged.get(id);
    if (logged !== undefined && logged !== `${kind}:${name}`) {
      this.fail(new NonDeterminismError(id, describeIdentity(logged), cmd.describe()));
    }
    if (this.fatal) cmd.reject(this.fatal);
    else if (this.cancelReason && !cmd.shielded) cmd.reject(new CancelledError(this.cancelReason.reason));
    else this.commands.set(id, cmd);
    return cmd;
  }

  callStep(def: StepDefinition, args: unknown[]): Promise<unknown> {
    const cmd = this.newCommand('step', def.name);
    cmd.def = def;
    cmd.args = args;
    cmd.policy = resolveRetryPolicy(def.retry, this.def.stepRetry, `step("${def.name}")`);
    return cmd.promise;
  }

  sleep(duration: Duration | Date): Promise<void> {
    const cmd = this.newCommand('sleep', 'sleep');
    if (duration instanceof Date) {
      const t = duration.getTime();
      if (Number.isNaN(t)) {
        this.commands.delete(cmd.id);
        cmd.reject(new InvalidArgumentError('sleep(date): the Date is invalid.'));
      }
      cmd.until = t;
    } else {
      try {
        cmd.durationMs = parseDuration(duration, 'sleep()');
      } catch (err) {
        this.commands.delete(cmd.id);
        cmd.reject(err);
      }
    }
    return cmd.promise as Promise<void>;
  }

  recordValue<T>(kind: 'now' | 'random' | 'uuid', produce: () => T): T {
    const cmd = this.newCommand('value', kind);
    this.commands.delete(cmd.id);
    if (this.fatal) throw this.fatal;
    const logged = this.loggedData.get(cmd.id);
    if (logged?.type === 'value_recorded') return deserialize<T>(logged.data.value);
    const value = produce();
    this.push({ type: 'value_recorded', correlationId: cmd.id, data: { kind, value: serialize(value) } });
    return value;
  }

  createHook(name: string, timeoutMs?: number): { token: string; promise: Promise<unknown> } {
    const cmd = this.newCommand('hook', name);
    const logged = this.loggedData.get(cmd.id);
    // 192 bits from the CSPRNG; recorded with hook_created, so a replay hands out the same token.
    cmd.token = logged?.type === 'hook_created' ? logged.data.token : randomBytes(24).toString('base64url');
    cmd.timeoutMs = timeoutMs;
    return { token: cmd.token, promise: cmd.promise };
  }

  waitForSignal(name: string, timeoutMs?: number): Promise<unknown> {
    const cmd = this.newCommand('signal', name);
    cmd.timeoutMs = timeoutMs;
    const queued = this.signalQueues.get(name);
    if (!cmd.settled && queued && queued.length > 0) this.settle(cmd, { ok: true, value: queued.shift()!.value });
    return cmd.promise;
  }

  private readonly queryHandlers = new Map<string, () => unknown>();

  setQueryHandler(name: string, handler: () => unknown): void {
    this.queryHandlers.set(name, handler);
  }

  /** The answer of a query handler registered by the workflow code (after a feed). */
  answerQuery(name: string): { found: boolean; value?: unknown } {
    const handler = this.queryHandlers.get(name);
    return handler ? { found: true, value: handler() } : { found: false };
  }

  patched(patchId: string): boolean {
    const position = String(this.counter + 1);
    const logged = this.logged.get(position);
    if (logged !== undefined && logged !== `patch:${patchId}`) return false; // an old run: its log has another call here
    const cmd = this.newCommand('patch', patchId);
    this.commands.delete(cmd.id);
    if (logged === undefined) this.push({ type: 'patch_marker', correlationId: cmd.id, data: { patchId } });
    return true;
  }

  startChild(def: WorkflowDefinition, args: unknown[], options: { parentClosePolicy: ParentClosePolicy; queue?: string }): Promise<{ runId: string; result: Promise<unknown> }> {
    const cmd = this.newCommand('child', def.name);
    cmd.child = { def, args, policy: options.parentClosePolicy, queue: options.queue };
    return cmd.promise as Promise<{ runId: string; result: Promise<unknown> }>;
  }

  private trackChild(position: string, runId: string, workflow: string, policy: ParentClosePolicy): { runId: string; result: Promise<unknown> } {
    let resolve!: (v: unknown) => void;
    let reject!: (e: unknown) => void;
    const promise = new Promise<unknown>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    promise.catch(() => undefined);
    this.children.set(position, { runId, workflow, policy, done: false, resolve, reject, promise });
    return { runId, result: promise };
  }

  /**
   * Creates the runs of new startChild calls. Creation is idempotent (keyed by this run and the call's
   * position), so a replay after a crash finds the child it created instead of making a second one.
   */
  private async createChildren(): Promise<boolean> {
    let created = false;
    for (const cmd of [...this.commands.values()]) {
      if (cmd.kind !== 'child' || cmd.settled || cmd.started) continue;
      cmd.started = true;
      const { def, args, policy, queue: childQueue } = cmd.child!;
      const now = this.deps.clock();
      const queue = childQueue ?? def.queue;
      let serialized: string;
      try {
        serialized = checkPayload(serialize(args, `the arguments of child workflow "${def.name}"`), `The arguments of child workflow "${def.name}"`, this.deps.limits ?? DEFAULT_LIMITS);
      } catch (err) {
        this.settle(cmd, { ok: false, error: err });
        created = true;
        continue;
      }
      const runId = randomUUID();
      const idempotencyKey = `child:${this.runId}:${cmd.id}`;
      const parent = { runId: this.runId, correlationId: cmd.id, parentClosePolicy: policy };
      const { run } = await this.deps.storage.createRun({
        runId,
        workflow: def.name,
        queue,
        args: serialized,
        idempotencyKey,
        parentRunId: this.runId,
        createdAt: now,
        firstEvent: makeEvent(runId, 1, 'run_created', { workflow: def.name, args: serialized, queue, idempotencyKey, parent, ...this.trace }, undefined, now),
      });
      this.push({ type: 'child_started', correlationId: cmd.id, data: { childRunId: run.runId, workflow: def.name, parentClosePolicy: policy } });
      this.startRuns.push({ runId: run.runId, queue });
      this.settle(cmd, { ok: true, value: this.trackChild(cmd.id, run.runId, def.name, policy) });
      created = true;
    }
    return created;
  }

  // ---- Live execution ----

  /**
   * Runs the workflow forward from the end of the log until it finishes or can only wait.
   * Throws StaleExecutionError when another writer appended to the run meanwhile.
   * `redispatch`: send the dispatched steps again (a recovery). `checkDispatched`: also look whether
   * the leases of dispatched steps' attempts lapsed (the run was woken by a timer, which may be one).
   */
  async advance(options: { redispatch?: boolean; checkDispatched?: boolean } = {}): Promise<AdvanceResult> {
    if (options.redispatch) for (const cmd of this.commands.values()) if (cmd.scheduled && !cmd.settled) this.toDispatch.push(cmd);
    if (!this.finished && (await this.resolveClaims(options.checkDispatched === true)) === 'owned') return 'owned';
    if (this.status === 'pending') {
      this.push({ type: 'run_started', data: { workerId: this.deps.workerId } });
      // maxDuration holds while the run is suspended too: a timer wakes it at its deadline.
      if (this.def.maxDurationMs !== undefined) this.addTimer('deadline', this.run.createdAt + this.def.maxDurationMs);
    }
    for (;;) {
      await drain();
      this.checkEventCount();
      this.checkDeadline();
      if (this.finished) {
        await this.finish();
        return 'finished';
      }
      if (this.completed.length > 0) {
        // Outcomes of attempts, recorded one by one in completion order with the code moving on between
        // them, exactly as a replay will apply them. (More may arrive meanwhile: the loop comes back.)
        for (const { cmd, outcome, attempt } of this.completed.splice(0)) {
          this.recordAttempt(cmd, outcome, attempt);
          await drain();
        }
        continue;
      }
      if (await this.createChildren()) continue;
      if (this.scan()) continue; // something resolved synchronously: let the code move on first
      const { ready, waiting } = this.readyAttempts();
      if (ready.length === 0 && !waiting && !this.attemptsRunning) {
        await this.flush(this.waitingOnDispatched ? 'running' : 'suspended');
        return 'suspended';
      }
      // An attempt's start is durable before its body runs, so that another worker finding the run
      // leaves the attempt to this one. It shares the append with whatever else is pending (the
      // previous step's outcome): one append per step in steady state.
      for (const cmd of ready) this.claim(cmd);
      if (ready.length > 0 || this.mustFlushNow()) await this.flush('running');
      for (const cmd of ready) this.startAttempt(cmd);
      await this.waitForProgress();
    }
  }

  /** Some step attempt runs for this execution (an outcome may still come). */
  private get attemptsRunning(): boolean {
    for (const cmd of this.commands.values()) if (cmd.inflight) return true;
    return false;
  }

  /**
   * Attempts the log shows in flight (`step_started`, no outcome): ones still running in this worker
   * are adopted; one running in another live worker means that worker advances the run, so this
   * execution leaves it ('owned'); ones whose lease lapsed lost their worker and are taken over.
   */
  private async resolveClaims(checkDispatched: boolean): Promise<'owned' | undefined> {
    const foreign: Command[] = [];
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
    const lapsed: Array<{ cmd: Command; handedBack: boolean }> = [];
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

  private checkDeadline(): void {
    const max = this.def.maxDurationMs;
    if (max === undefined || this.fatal || this.outcome) return;
    if (this.deps.clock() >= this.run.createdAt + max) {
      this.fail(new WorkflowTimeoutError(`Run ${this.runId} exceeded its maxDuration of ${max} ms.`));
    }
  }

  private interruptions = 0;

  /**
   * Called when this execution takes over a run whose previous worker was lost: records it, and fails
   * the run when its workflow does not recover from worker loss or has used up its recoveries.
   */
  private recordInterruption(): void {
    const attempt = this.interruptions + 1;
    this.interruptions = attempt;
    this.push({ type: 'run_interrupted', data: { attempt, workerId: this.deps.workerId } });
    if (!this.def.recoverOnWorkerLoss) {
      this.fail(new WorkerLostError(`Run ${this.runId} lost its worker and its workflow has recoverOnWorkerLoss: false.`));
    } else if (attempt > this.def.maxRecoveryAttempts) {
      this.fail(new WorkerLostError(`Run ${this.runId} lost its worker ${attempt} times, more than its maxRecoveryAttempts (${this.def.maxRecoveryAttempts}).`));
    }
  }

  private warnedEvents = false;

  /** The soft limit warns once; the hard limit fails the run, dropping what was not yet recorded. */
  private checkEventCount(): void {
    const limits = this.deps.limits ?? DEFAULT_LIMITS;
    const count = this.seq + this.outbox.length;
    if (count >= limits.maxEvents && !this.fatal) {
      this.fail(new EventLimitExceededError(this.runId, limits.maxEvents));
    } else if (count >= limits.warnEvents && !this.warnedEvents) {
      this.warnedEvents = true;
      this.logger.warn('run has many events; consider continueAsNew', { events: count, warnEvents: limits.warnEvents, maxEvents: limits.maxEvents });
    }
  }

  /** Records new calls and resolves due sleeps. Returns true when a command was settled. */
  private scan(): boolean {
    const now = this.deps.clock();
    let settled = false;
    for (const cmd of [...this.commands.values()]) {
      if (cmd.settled) continue;
      if (cmd.kind === 'sleep') {
        if (!cmd.started) {
          cmd.started = true;
          cmd.wakeAt = cmd.until ?? now + (cmd.durationMs ?? 0);
          this.push({ type: 'sleep_started', correlationId: cmd.id, data: { wakeAt: cmd.wakeAt } });
          if (cmd.wakeAt > now) {
            const timer = { runId: this.runId, timerId: `sleep:${cmd.id}`, fireAt: cmd.wakeAt };
            this.setTimers.push(timer);
            this.newTimers.push(timer);
            this.liveTimers.add(timer.timerId);
          }
        }
        if (cmd.wakeAt! <= now) {
          this.push({ type: 'sleep_completed', correlationId: cmd.id, data: {} });
          this.dropTimer(`sleep:${cmd.id}`);
          this.settle(cmd, { ok: true, value: undefined });
          settled = true;
        }
      } else if (cmd.kind === 'hook') {
        if (!cmd.started) {
          cmd.started = true;
          cmd.hookCreatedAt = now;
          cmd.timeoutAt = cmd.timeoutMs === undefined ? undefined : now + cmd.timeoutMs;
          this.push({ type: 'hook_created', correlationId: cmd.id, data: cmd.timeoutAt === undefined ? { name: cmd.name, token: cmd.token! } : { name: cmd.name, token: cmd.token!, expiresAt: cmd.timeoutAt } });
          this.setHooks.push(this.hookRecord(cmd));
          if (cmd.timeoutAt !== undefined) this.addTimer(`hook:${cmd.id}`, cmd.timeoutAt);
        }
        if (cmd.timeoutAt !== undefined && cmd.timeoutAt <= now) {
          this.push({ type: 'hook_timed_out', correlationId: cmd.id, data: {} });
          this.setHooks.push({ ...this.hookRecord(cmd), consumedAt: now });
          this.dropTimer(`hook:${cmd.id}`);
          this.settle(cmd, { ok: false, error: new HookTimeoutError(`Hook "${cmd.name}" timed out before it was resumed.`) });
          settled = true;
        }
      } else if (cmd.kind === 'signal') {
        if (!cmd.started && cmd.timeoutMs !== undefined) {
          cmd.started = true;
          cmd.timeoutAt = now + cmd.timeoutMs;
          this.push({ type: 'signal_waiting', correlationId: cmd.id, data: { name: cmd.name, timeoutAt: cmd.timeoutAt } });
          this.addTimer(`signal:${cmd.id}`, cmd.timeoutAt);
        }
        if (cmd.timeoutAt !== undefined && cmd.timeoutAt <= now) {
          this.push({ type: 'signal_timed_out', correlationId: cmd.id, data: { name: cmd.name } });
          this.dropTimer(`signal:${cmd.id}`);
          this.settle(cmd, { ok: false, error: new SignalTimeoutError(`No signal "${cmd.name}" arrived before the timeout.`) });
          settled = true;
        }
      } else if (cmd.kind === 'step' && cmd.waitingHook?.timeoutAt !== undefined && cmd.waitingHook.timeoutAt <= now) {
        const { name, token, timeoutAt } = cmd.waitingHook;
        const cid = `${cmd.id}/${name}`;
        this.push({ type: 'hook_timed_out', correlationId: cid, data: {} });
        this.setHooks.push({ token, runId: this.runId, correlationId: cid, name, createdAt: now, expiresAt: timeoutAt, consumedAt: now });
        this.dropTimer(`hook:${cid}`);
        cmd.waitingHook = undefined;
        cmd.hookOutcomes.set(name, { ok: false, error: new HookTimeoutError(`Step hook "${name}" timed out before it was resumed.`) });
        settled = true;
      } else if (cmd.kind === 'step' && !cmd.inflight && !this.deps.runsInline(cmd.def!)) {
        if (!cmd.scheduled) {
          cmd.scheduled = true;
          this.push({
            type: 'step_scheduled',
            correlationId: cmd.id,
            data: { name: cmd.name, args: serialize(cmd.args, `the arguments of step "${cmd.name}"`), queue: cmd.def!.queue ?? this.run.queue },
          });
          this.toDispatch.push(cmd);
        }
      }
    }
    return settled;
  }

  /**
   * Inline steps whose next attempt may start now, and whether some wait in this process for a short
   * retry delay; long retry waits get a timer instead.
   */
  private readyAttempts(): { ready: Command[]; waiting: boolean } {
    const now = this.deps.clock();
    const ready: Command[] = [];
    let waiting = false;
    for (const cmd of this.commands.values()) {
      if (cmd.settled || cmd.kind !== 'step' || cmd.inflight || cmd.claim || cmd.scheduled || cmd.waitingHook || !this.deps.runsInline(cmd.def!)) continue;
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

  /** Events that must be durable before anything leaves the process. run_started alone can wait. */
  private mustFlushNow(): boolean {
    return this.toDispatch.length > 0 || this.newTimers.length > 0 || this.startRuns.length > 0 || this.outbox.some((p) => p.type !== 'run_started');
  }

  /** Queues the `step_started` of the step's next attempt and its lease timer (storage only: no wake-up is published for it). */
  private claim(cmd: Command): void {
    const now = this.deps.clock();
    const leaseUntil = now + (this.deps.stepLeaseMs ?? DEFAULT_STEP_LEASE_MS);
    this.push({ type: 'step_started', correlationId: cmd.id, data: { name: cmd.name, attempt: cmd.attempts + 1, workerId: this.deps.workerId, leaseUntil }, at: now });
    this.storeTimer({ runId: this.runId, timerId: leaseTimerId(cmd.id), fireAt: leaseUntil });
  }

  /** Runs the attempt that the durable `step_started` (cmd.claim) names. */
  private startAttempt(cmd: Command): void {
    const claim = cmd.claim!;
    const abort = new AbortController();
    cmd.abort = abort;
    const request: AttemptRequest = { runId: this.runId, stepId: cmd.id, def: cmd.def!, args: cmd.args!, attempt: claim.attempt, policy: cmd.policy!, signal: abort.signal, hookOutcomes: cmd.hookOutcomes, claimSeq: claim.seq };
    const body = () => this.deps.runAttempt(request);
    const tracker = this.deps.attempts;
    this.follow(cmd, claim.attempt, tracker ? tracker.run({ runId: this.runId, stepId: cmd.id, claimSeq: claim.seq }, { shielded: cmd.shielded, leaseUntil: claim.leaseUntil, abort }, body) : body());
  }

  /** The loop records the attempt's outcome when it comes. */
  private follow(cmd: Command, attempt: number, outcome: Promise<AttemptOutcome>): void {
    cmd.inflight = true;
    void outcome.then((o) => {
      this.completed.push({ cmd, outcome: o, attempt });
      this.wake?.();
    });
  }

  /**
   * Waits for something to do while attempts run or a short retry waits: an attempt's outcome, the
   * run's earliest due time (a sleep, a hook or signal timeout, a retry, the maxDuration deadline),
   * which fires while inline steps run just as it would in a suspended run, or a poke.
   */
  private async waitForProgress(): Promise<void> {
    if (this.completed.length > 0 || this.poked) {
      this.poked = false;
      return;
    }
    const due = nextDueAt(this.commands.values(), {
      deadline: this.def.maxDurationMs === undefined ? undefined : this.run.createdAt + this.def.maxDurationMs,
      waitsInline: (cmd) => this.deps.runsInline(cmd.def!) && cmd.retryAt! - this.deps.clock() <= this.deps.inlineRetryMaxMs,
    });
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      this.wake = resolve;
      if (due !== undefined) timer = setTimeout(resolve, Math.min(Math.max(0, due - this.deps.clock()), MAX_TIMER_MS));
    });
    clearTimeout(timer);
    this.wake = undefined;
    this.poked = false;
  }

  /**
   * Tells a waiting loop to look again: the worker received a task for this run (a timer's wake-up,
   * whose due time a virtual clock may have reached before the wall clock did).
   */
  poke(): void {
    this.poked = true;
    this.wake?.();
  }

  /** Turns an attempt's outcome into its event and settles the call (the event is flushed before any external effect). */
  private recordAttempt(cmd: Command, outcome: AttemptOutcome, attempt: number): void {
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
      this.setHooks.push({ token: error.token, runId: this.runId, correlationId: cid, name: error.hookName, createdAt: now, expiresAt });
      if (expiresAt !== undefined) this.addTimer(`hook:${cid}`, expiresAt);
      return;
    }
    const policy = cmd.policy!;
    const fatal = isFatal(error) || attempt >= policy.maxAttempts;
    const data: EventDataMap['step_failed'] = { name: cmd.name, attempt, error: errorToObject(error) };
    if (!fatal) {
      const delay = error instanceof RetryableError && error.retryAfterMs !== undefined ? error.retryAfterMs : backoffDelay(policy, attempt);
      cmd.retryAt = now + delay;
      data.retryAt = cmd.retryAt;
    }
    this.push({ type: 'step_failed', correlationId: cmd.id, data, at: now });
    if (fatal) {
      this.dropTimer(`retry:${cmd.id}`);
      this.settle(cmd, { ok: false, error: new StepFailedError(cmd.name, attempt, error) });
    }
  }

  private async finish(): Promise<void> {
    const now = this.deps.clock();
    let patch: { status: RunStatus; result?: string; error?: ReturnType<typeof errorToObject> };
    let event: Pending;
    const outcome = this.fatal ? { ok: false as const, error: this.fatal } : this.outcome!;
    this.failure = outcome.ok ? undefined : outcome.error;
    if (this.cancelReason && !this.fatal) {
      event = { type: 'run_cancelled', data: { reason: this.cancelReason.reason } };
      patch = { status: 'cancelled', error: errorToObject(new CancelledError(this.cancelReason.reason)) };
    } else if (!outcome.ok && outcome.error instanceof ContinueAsNew) {
      let nextRunId: string;
      try {
        nextRunId = await this.createContinuation(outcome.error.args, now);
      } catch (err) {
        if (!(err instanceof DurablyError) || err.code !== 'SERIALIZATION') throw err;
        this.fatal = err;
        return this.finish();
      }
      event = { type: 'run_continued', data: { nextRunId } };
      patch = { status: 'continued' };
      this.startRuns.push({ runId: nextRunId, queue: this.run.queue });
    } else if (outcome.ok) {
      let result: string | undefined;
      try {
        result = checkPayload(serialize(outcome.value, `the result of workflow "${this.workflowName}"`), `The result of workflow "${this.workflowName}"`, this.deps.limits ?? DEFAULT_LIMITS);
      } catch (err) {
        this.fatal = err as Error;
        return this.finish();
      }
      event = { type: 'run_completed', data: { result } };
      patch = { status: 'completed', result };
    } else {
      const error = errorToObject(outcome.error);
      event = { type: 'run_failed', data: { error } };
      patch = { status: 'failed', error };
    }
    if (this.fatal instanceof EventLimitExceededError) {
      // Over the limit: record only the failure.
      this.outbox = [];
      this.toDispatch = [];
    }
    this.outbox.push(event);
    for (const child of this.children.values()) {
      if (!child.done && child.policy !== 'abandon' && patch.status !== 'continued') this.closeChildren.push({ runId: child.runId, policy: child.policy });
    }
    if (this.parentLink && patch.status !== 'continued') {
      const error = patch.status === 'cancelled' ? errorToObject(new CancelledError(this.cancelReason?.reason)) : patch.error;
      this.notifyParent = {
        parentRunId: this.parentLink.runId,
        correlationId: this.parentLink.correlationId,
        event: patch.status === 'completed' ? { type: 'child_completed', data: { childRunId: this.runId, result: patch.result! } } : { type: 'child_failed', data: { childRunId: this.runId, error: error! } },
      };
    }
    // A finished run keeps no timers (e.g. a sleep that lost a Promise.race).
    for (const timerId of [...this.liveTimers]) this.dropTimer(timerId);
    this.newTimers = [];
    this.toDispatch = [];
    this.releaseSlots = this.def.concurrency !== undefined;
    await this.flush(patch.status, { ...patch, finishedAt: now });
    // Attempts that lost a race to the end of the run: nothing of theirs can be recorded now.
    const ended = new CancelledError('the run has finished');
    for (const cmd of this.commands.values()) {
      if (!cmd.inflight) continue;
      cmd.abort?.abort(ended);
      this.deps.attempts?.release(this.runId, cmd.id);
    }
    this.fail(ended);
  }

  /** Queues an event for the next append, stamped with the time it happened. */
  private push(pending: Pending): void {
    pending.at ??= this.deps.clock();
    this.outbox.push(pending);
  }

  private hookRecord(cmd: Command): HookRecord {
    const record: HookRecord = { token: cmd.token!, runId: this.runId, correlationId: cmd.id, name: cmd.name, createdAt: cmd.hookCreatedAt ?? this.deps.clock() };
    if (cmd.timeoutAt !== undefined) record.expiresAt = cmd.timeoutAt;
    return record;
  }

  /** Writes a timer with the next append and publishes its wake-up after it. */
  private addTimer(timerId: string, fireAt: number): void {
    const timer = { runId: this.runId, timerId, fireAt };
    this.storeTimer(timer);
    this.newTimers.push(timer);
  }

  /** Writes a timer with the next append, replacing a deletion of the same timer queued in this batch. */
  private storeTimer(timer: Timer): void {
    this.clearTimers = this.clearTimers.filter((id) => id !== timer.timerId);
    this.setTimers = this.setTimers.filter((t) => t.timerId !== timer.timerId);
    this.setTimers.push(timer);
    this.liveTimers.add(timer.timerId);
  }

  /** Deletes a timer with the next append; one not yet written is simply not written. */
  private dropTimer(timerId: string): void {
    if (!this.liveTimers.delete(timerId)) return;
    const pending = this.setTimers.findIndex((t) => t.timerId === timerId);
    if (pending >= 0) {
      this.setTimers.splice(pending, 1);
      this.newTimers = this.newTimers.filter((t) => t.timerId !== timerId);
    } else {
      this.clearTimers.push(timerId);
    }
  }

  /**
   * Creates the run that continues this one. Its creation is idempotent (keyed by this run), so a
   * crash between it and this run's final append does not start a second continuation on replay.
   */
  private async createContinuation(args: unknown[], now: number): Promise<string> {
    const serialized = serialize(args, `the arguments of continueAsNew in workflow "${this.workflowName}"`);
    const carriedSignals = this.unconsumedSignals();
    const runId = randomUUID();
    const idempotencyKey = `continue:${this.runId}`;
    const { run, created } = await this.deps.storage.createRun({
      runId,
      workflow: this.workflowName,
      queue: this.run.queue,
      args: serialized,
      idempotencyKey,
      createdAt: now,
      parentRunId: this.parentLink?.runId,
      // A continued child keeps its parent: the last run of the chain reports to it.
      firstEvent: makeEvent(
        runId,
        1,
        'run_created',
        {
          workflow: this.workflowName,
          args: serialized,
          queue: this.run.queue,
          idempotencyKey,
          continuedFrom: this.runId,
          ...(this.parentLink ? { parent: this.parentLink } : {}),
          ...(carriedSignals.length > 0 ? { carriedSignals } : {}),
          ...this.trace,
        },
        undefined,
        now,
      ),
    });
    if (!created) await this.carryLateSignals(run.runId, carriedSignals, now);
    return run.runId;
  }

  /**
   * The continuation was created by an earlier attempt of this final append, which then lost a race
   * (a signal arrived). Signals that arrived since are not in its run_created: append them to it.
   */
  private async carryLateSignals(nextRunId: string, carried: Array<{ name: string; payload: Serialized }>, now: number): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const events = await this.deps.storage.readEvents(nextRunId);
      const first = events[0];
      if (first?.type !== 'run_created') return;
      const already = (first.data.carriedSignals?.length ?? 0) + events.filter((e) => e.type === 'signal_received' && e.data.carried).length;
      const missing = carried.slice(already);
      if (missing.length === 0) return;
      const lastSeq = events.at(-1)!.seq;
      const appended = missing.map((m, i) => makeEvent(nextRunId, lastSeq + 1 + i, 'signal_received', { name: m.name, payload: m.payload, carried: true }, undefined, now) as DurablyEvent);
      try {
        await this.deps.storage.append({ runId: nextRunId, expectedSeq: lastSeq, events: appended });
        return;
      } catch (err) {
        if (err instanceof AppendConflictError && attempt < 50) continue;
        throw err;
      }
    }
  }

  private abandoned = false;

  /** The worker handed this run back: nothing more is written from here. */
  abandon(): void {
    this.abandoned = true;
  }

  /** One conditional append of everything pending. A no-op when nothing changed. */
  private async flush(status: RunStatus, patch: Record<string, unknown> = {}): Promise<void> {
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
        if (cmd) cmd.scheduledSeq = ev.seq;
      } else if (ev.type === 'step_started') {
        const cmd = this.commands.get(ev.correlationId!);
        if (cmd) cmd.claim = { attempt: ev.data.attempt, workerId: ev.data.workerId, seq: ev.seq, leaseUntil: ev.data.leaseUntil };
      }
    }
    try {
      await this.deps.storage.append({
        runId: this.runId,
        expectedSeq: this.seq,
        events,
        run: { status, ...patch },
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

  private async afterFlush(): Promise<void> {
    if (this.toDispatch.length === 0 && this.newTimers.length === 0 && this.startRuns.length === 0 && this.closeChildren.length === 0 && !this.notifyParent) return;
    const effects: FlushEffects = {
      runId: this.runId,
      queue: this.run.queue,
      dispatched: this.toDispatch,
      timers: this.newTimers,
      startRuns: this.startRuns,
      closeChildren: this.closeChildren,
      notifyParent: this.notifyParent,
    };
    this.toDispatch = [];
    this.newTimers = [];
    this.startRuns = [];
    this.closeChildren = [];
    this.notifyParent = undefined;
    await this.deps.afterFlush(effects);
  }
}

function isStepHook(correlationId: string | undefined): boolean {
  return correlationId !== undefined && correlationId.includes('/');
}

function splitStepHook(correlationId: string): [string, string] {
  const i = correlationId.indexOf('/');
  return [correlationId.slice(0, i), correlationId.slice(i + 1)];
}

function identityOf(ev: DurablyEvent): string | undefined {
  switch (ev.type) {
    case 'step_scheduled':
    case 'step_started':
    case 'step_failed':
    case 'step_completed':
      return `step:${ev.data.name}`;
    case 'sleep_started':
    case 'sleep_completed':
      return 'sleep:sleep';
    case 'value_recorded':
      return `value:${ev.data.kind}`;
    case 'hook_created':
      return isStepHook(ev.correlationId) ? undefined : `hook:${ev.data.name}`;
    case 'signal_waiting':
    case 'signal_timed_out':
      return `signal:${ev.data.name}`;
    case 'patch_marker':
      return `patch:${ev.data.patchId}`;
    case 'child_started':
      return `child:${ev.data.workflow}`;
    default:
      return undefined;
  }
}

function describeIdentity(identity: string): string {
  const i = identity.indexOf(':');
  return describeCall(identity.slice(0, i), identity.slice(i + 1));
}

export function isFatal(error: unknown): boolean {
  if (error instanceof FatalError || error instanceof SerializationError) return true;
  const code = (error as { code?: unknown } | undefined)?.code;
  return (
    code === 'FATAL' ||
    code === 'SERIALIZATION' ||
    code === 'INVALID_ARGUMENT' ||
    code === 'PAYLOAD_TOO_LARGE' ||
    code === 'ARGUMENT_VALIDATION' ||
    code === 'STREAM_NOT_DEFINED' ||
    code === 'STREAM_RUN_NOT_FOUND' ||
    code === 'STREAM_FAILED'
  );
}
