import type { StepDefinition } from '../definitions.js';
import type { RetryPolicy } from '../retry.js';

/**
 * One durable call made by workflow code, identified by its position in the call order. The
 * workflow awaits `promise`; the execution settles it from the log (replay) or from new work (live).
 */
export class Command {
  readonly promise: Promise<unknown>;
  settled = false;
  /** Made inside shield(): cancellation does not touch it. */
  shielded = false;
  /** Aborts the running attempt (cancellation). */
  abort?: AbortController;
  private resolveFn!: (value: unknown) => void;
  private rejectFn!: (error: unknown) => void;

  // Steps
  def?: StepDefinition;
  args?: unknown[];
  policy?: RetryPolicy;
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
  /** stepHook: the hook the step is suspended on (by name), and the outcomes of its hooks so far. */
  waitingHook?: { name: string; token: string; timeoutAt?: number };
  hookOutcomes = new Map<string, { ok: true; value: unknown } | { ok: false; error: unknown }>();

  // Sleeps
  durationMs?: number;
  until?: number;
  wakeAt?: number;
  started = false;

  // Hooks and signal waits
  token?: string;
  timeoutMs?: number;
  /** Hook expiry or signal-wait timeout (epoch ms), once recorded. */
  timeoutAt?: number;
  hookCreatedAt?: number;

  // Child workflows
  child?: { def: import('../definitions.js').WorkflowDefinition; args: unknown[]; policy: import('@durably/contracts').ParentClosePolicy; queue?: string };

  constructor(
    readonly id: string,
    readonly kind: 'step' | 'sleep' | 'value' | 'hook' | 'signal' | 'patch' | 'child',
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
    case 'patch':
      return `patched("${name}")`;
    case 'child':
      return `child workflow "${name}"`;
    default:
      return `context value "${name}"`;
  }
}

/** Lets every pending promise chain of the workflow run until it waits on something unresolved. */
export function drain(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
