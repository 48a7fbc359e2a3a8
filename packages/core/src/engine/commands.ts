import type { ParentClosePolicy } from '@durably/contracts';
import type { StepHookOutcomes } from './control.js';
import type { StepDefinition, WorkflowDefinition } from './definitions.js';
import type { RetryPolicy } from './retry.js';
import { HookInbox } from './hook-inbox.js';
import type { CancelScope } from './cancel-scope.js';

/**
 * One durable call made by workflow code, identified by its position in the call order. The
 * workflow awaits `promise`; the execution settles it from the log (replay) or from new work (live).
 * `Command` is the union of the eight kinds, each with the fields of its kind only.
 */
abstract class Call {
  abstract readonly kind: Command['kind'];
  readonly promise: Promise<unknown>;
  settled = false;
  /** Made inside shield(): cancellation does not touch it. */
  shielded = false;
  /** The cancellation scope it was made in (cancellable, shield); cancelling the scope cancels it. */
  scope?: CancelScope;
  /** Aborts the running attempt (cancellation). */
  abort?: AbortController;
  private resolveFn!: (value: unknown) => void;
  private rejectFn!: (error: unknown) => void;

  constructor(
    readonly id: string,
    readonly name: string,
  ) {
    this.promise = new Promise((resolve, reject) => {
      this.resolveFn = resolve;
      this.rejectFn = reject;
    });
    // A command rejected while the workflow is not awaiting it (e.g. on cancel) must not crash the process.
    this.promise.catch(() => undefined);
  }

  resolve(value: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.resolveFn(value);
  }

  reject(error: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.rejectFn(error);
  }

  describe(): string {
    return describeCall(this.kind, this.name);
  }
}

/** A step call: its definition, arguments and retry policy, and where its attempts stand. */
export class StepCommand extends Call {
  readonly kind = 'step' as const;
  /** Attempts already made (recorded in the log or finished in this process). */
  attempts = 0;
  /** When the next attempt may start, after a recorded failure. */
  retryAt?: number;
  /** step_scheduled is in the log (or the outbox): the step was dispatched through the broker. */
  scheduled = false;
  /** An attempt is running in this process. */
  inflight = false;
  /** seq of its step_scheduled event (dispatch mode), for the step worker's duplicate check. */
  scheduledSeq?: number;
  /** The step's latest `step_started` with no outcome after it: an attempt in flight, here or in another worker. */
  claim?: { attempt: number; workerId: string; seq: number; leaseUntil: number };
  /** retryAt for which a wake-up timer was written. */
  retryTimerAt?: number;
  /** The step's first `step_started` (from the log): totalTimeout counts from its time; a later claim may find heartbeat details. */
  firstStart?: { seq: number; at: number };
  /** stepHook: the hook the step is suspended on (by name), and the outcomes of its hooks so far. */
  waitingHook?: { name: string; token: string; timeoutAt?: number };
  readonly hookOutcomes: StepHookOutcomes = new Map();

  constructor(
    id: string,
    readonly def: StepDefinition,
    readonly args: unknown[],
    readonly policy: RetryPolicy,
  ) {
    super(id, def.name);
  }
}

/** A durable sleep: for a duration or until a time; `wakeAt` once started. */
export class SleepCommand extends Call {
  readonly kind = 'sleep' as const;
  durationMs?: number;
  until?: number;
  wakeAt?: number;
  started = false;
}

/** A recorded context value (now, random, uuid): settled at the call. */
export class ValueCommand extends Call {
  readonly kind = 'value' as const;
}

/**
 * A hook created by the workflow: its token (recorded, so a replay hands out the same one) and timeout.
 * A multi-use hook has an inbox: its payloads go there, and the command stays open until the code
 * closes it or it times out. Closed by the code, it is settled but stays among the commands until the
 * log's `hook_closed`: payloads recorded before the close was durable still find it (and are dropped).
 */
export class HookCommand extends Call {
  readonly kind = 'hook' as const;
  started = false;
  /** Hook expiry (epoch ms), once recorded. */
  timeoutAt?: number;
  hookCreatedAt?: number;
  /** Multi-use hooks only. */
  readonly inbox?: HookInbox;
  /** A multi-use hook the code closed. */
  closed = false;

  constructor(
    id: string,
    name: string,
    readonly token: string,
    readonly timeoutMs?: number,
    multiUse = false,
  ) {
    super(id, name);
    if (multiUse) this.inbox = new HookInbox();
  }

  override resolve(value: unknown): void {
    super.resolve(value);
    this.inbox?.finish();
  }

  override reject(error: unknown): void {
    super.reject(error);
    this.inbox?.finish(error);
  }
}

/** A waitForSignal: its timeout, once recorded. */
export class SignalCommand extends Call {
  readonly kind = 'signal' as const;
  started = false;
  /** Signal-wait timeout (epoch ms), once recorded. */
  timeoutAt?: number;

  constructor(
    id: string,
    name: string,
    readonly timeoutMs?: number,
  ) {
    super(id, name);
  }
}

/**
 * A condition(): resolves true once its predicate holds after the code ran (a signal handler, an
 * outcome), false when its timeout (a durable timer, recorded with condition_waiting) passes first.
 */
export class ConditionCommand extends Call {
  readonly kind = 'condition' as const;
  started = false;
  /** Timeout (epoch ms), once recorded. */
  timeoutAt?: number;

  constructor(
    id: string,
    readonly predicate: () => boolean,
    readonly timeoutMs?: number,
  ) {
    super(id, 'condition');
  }
}

/** A patched() marker: settled at the call. */
export class PatchCommand extends Call {
  readonly kind = 'patch' as const;
}

/** A setAttributes() call: settled at the call (its event records the attributes). */
export class AttributesCommand extends Call {
  readonly kind = 'attributes' as const;
}

/** A startChild: the child's definition, arguments, close policy and queue. */
export class ChildCommand extends Call {
  readonly kind = 'child' as const;
  started = false;

  constructor(
    id: string,
    readonly child: { def: WorkflowDefinition; args: unknown[]; policy: ParentClosePolicy; queue?: string },
  ) {
    super(id, child.def.name);
  }
}

export type Command = StepCommand | SleepCommand | ValueCommand | HookCommand | SignalCommand | ConditionCommand | PatchCommand | AttributesCommand | ChildCommand;

/** The command type of one kind. */
export type CommandOf<K extends Command['kind']> = Extract<Command, { kind: K }>;

export function describeCall(kind: string, name: string): string {
  switch (kind) {
    case 'step':
      return `step "${name}"`;
    case 'sleep':
      return 'sleep';
    case 'hook':
      return `hook "${name}"`;
    case 'signal':
      return `waitForSignal("${name}")`;
    case 'condition':
      return 'condition()';
    case 'patch':
      return `patched("${name}")`;
    case 'child':
      return `child workflow "${name}"`;
    case 'attributes':
      return name;
    default:
      return `context value "${name}"`;
  }
}

/** Lets every pending promise chain of the workflow run until it waits on something unresolved. */
export function drain(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
