/**
 * The one seam through which the engine reports what it does. The worker and the client call these
 * hooks; logs (`logInstrumentation`), Prometheus metrics (`MetricsInstrumentation`) and OpenTelemetry
 * spans (`otelInstrumentation`) are implementations of it, and users may add their own
 * (`createWorker({ instrumentation })`). Every member is optional; a hook must not throw (what one
 * throws is caught and ignored, so observability can never fail a run).
 */

/** W3C trace context, as stored in a run's `run_created` event and carried by step tasks. */
export interface TraceContext {
  traceparent: string;
  tracestate?: string;
}

/** What `Instrumentation.runStart` is told when the client creates a run. */
export interface RunStartInfo {
  runId: string;
  workflow: string;
  queue: string;
}

/** The client is creating a run (start, schedule slot): wraps the creation; returns what to store. */
export interface StartScope {
  /** The trace context the run carries (stored in run_created as `traceparent`/`tracestate`). */
  trace?: TraceContext;
  wrap?<T>(fn: () => T): T;
  end(error?: unknown): void;
}

/** What `Instrumentation.runExecution` is told when a worker executes a run (first start or resume). */
export interface RunExecutionInfo {
  runId: string;
  workflow: string;
  queue: string;
  workerId: string;
  /** When the run was created (epoch ms). */
  createdAt: number;
  /** True when this execution starts the run (it was pending); false when it resumes it. */
  firstStart: boolean;
  /** Events of the log replayed before running forward. */
  replayedEvents: number;
  /** The trace context stored with the run, if its creator had one. */
  trace?: TraceContext;
}

/** How one execution of a run on a worker ended. */
export type RunExecutionOutcome = 'completed' | 'failed' | 'cancelled' | 'continued' | 'suspended' | 'superseded' | 'error';

/** How one execution of a run ended, given to `RunScope.end`. */
export interface RunExecutionResult {
  outcome: RunExecutionOutcome;
  /** The run's error (failed) or what went wrong advancing it (error). */
  error?: unknown;
}

/** What `Instrumentation.runExecution` may return: a scope around one execution of a run, ended with its result. */
export interface RunScope {
  /** Runs `fn` inside this scope (the trace context that step attempts and child spans inherit). */
  wrap?<T>(fn: () => T): T;
  /** The trace context of this scope, for work it hands to other workers (dispatched steps). */
  trace?(): TraceContext | undefined;
  end(result: RunExecutionResult): void;
}

/** What `Instrumentation.stepAttempt` is told when an attempt of a step begins. */
export interface StepAttemptInfo {
  runId: string;
  /** Absent for a dispatched step whose workflow this worker does not know. */
  workflow?: string;
  stepId: string;
  step: string;
  attempt: number;
  maxAttempts: number;
  /** true: the attempt runs in the run's own execution; false: dispatched through the broker. */
  inline: boolean;
  /** For dispatched steps: the trace context carried by the task. */
  trace?: TraceContext;
}

/** completed; failed (no attempt follows); retry (another attempt follows); suspended (waits on a step hook). */
export type StepAttemptOutcome = 'completed' | 'failed' | 'retry' | 'suspended';

/**
 * What `Instrumentation.stepAttempt` may return: a scope around one attempt, ended with its outcome
 * and duration in milliseconds.
 */
export interface AttemptScope {
  wrap?<T>(fn: () => T): T;
  end(result: { outcome: StepAttemptOutcome; durationMs: number; error?: unknown }): void;
}

/**
 * What `Instrumentation.taskReceived` is told when a worker takes a task (a run or a dispatched step) from the broker.
 */
export interface TaskInfo {
  queue: string;
  kind: 'run' | 'step';
  runId: string;
  /** How long after it was due the task was received (ms; 0 when unknown). */
  lagMs: number;
}

/**
 * What `Instrumentation.deadLetter` is told when a worker dead-letters a message (undecodable, or failed too often).
 */
export interface DeadLetterInfo {
  queue: string;
  messageId: string;
  reason: string;
  runId?: string;
}

/** What `Instrumentation.recovery` is told when a worker resumes a run that was stuck. */
export interface RecoveryInfo {
  /** stale_run: no progress for staleAfter; overdue_timer: a wake-up was lost; worker_lost: a run's worker died mid-run. */
  kind: 'stale_run' | 'overdue_timer' | 'worker_lost';
  runId: string;
  detail?: Record<string, unknown>;
}

/**
 * Hooks the engine calls as it works, for your own logs, metrics or traces (logs, Prometheus metrics
 * and OpenTelemetry spans are built in). Every member is optional, and what one throws is caught and
 * ignored, so observability never fails a run. Pass it to `createWorker({ instrumentation })` or
 * `new Client({ instrumentation })`.
 *
 * @example
 * ```ts
 * import { createWorker, type Instrumentation } from '@durably/core';
 *
 * const slowSteps: Instrumentation = {
 *   stepAttempt: (info) => ({
 *     end: ({ outcome, durationMs }) => {
 *       if (durationMs > 1_000) console.warn(`${info.step} #${info.attempt} took ${durationMs} ms (${outcome})`);
 *     },
 *   }),
 * };
 * const worker = createWorker({ workflows: [], instrumentation: slowSteps });
 * ```
 */
export interface Instrumentation {
  runStart?(info: RunStartInfo): StartScope | void;
  runExecution?(info: RunExecutionInfo): RunScope | void;
  stepAttempt?(info: StepAttemptInfo): AttemptScope | void;
  taskReceived?(info: TaskInfo): void;
  deadLetter?(info: DeadLetterInfo): void;
  recovery?(info: RecoveryInfo): void;
}

function safely(fn: () => void): void {
  try {
    fn();
  } catch {
    // Observability never fails the work it observes.
  }
}

function attempt<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch {
    return undefined;
  }
}

/** What the engine calls: every hook present, every scope complete. */
export interface CombinedInstrumentation {
  runStart(info: RunStartInfo): { trace?: TraceContext; wrap<T>(fn: () => T): T; end(error?: unknown): void };
  runExecution(info: RunExecutionInfo): { wrap<T>(fn: () => T): T; trace(): TraceContext | undefined; end(result: RunExecutionResult): void };
  stepAttempt(info: StepAttemptInfo): { wrap<T>(fn: () => T): T; end(result: { outcome: StepAttemptOutcome; durationMs: number; error?: unknown }): void };
  taskReceived(info: TaskInfo): void;
  deadLetter(info: DeadLetterInfo): void;
  recovery(info: RecoveryInfo): void;
}

/** The scopes `open` made for each of `list`, in order (one that throws or returns nothing is left out). */
function opened<P, S>(list: readonly P[], open: (part: P) => S | void | undefined): S[] {
  const live: S[] = [];
  for (const part of list) {
    const scope = attempt(() => open(part));
    if (scope !== undefined && scope !== null) live.push(scope);
  }
  return live;
}

/** Runs `fn` inside the `wrap` of each of `live` from `from` on, the first outermost. */
function nest<T>(live: ReadonlyArray<{ wrap?<U>(fn: () => U): U }>, fn: () => T, from = 0): T {
  for (let i = from; i < live.length; i++) {
    const scope = live[i];
    if (scope.wrap) return scope.wrap(() => nest(live, fn, i + 1));
  }
  return fn();
}

/** Ends each of `live`, in order; what one throws is ignored. */
function endAll<R>(live: ReadonlyArray<{ end(result: R): void }>, result: R): void {
  for (const scope of live) safely(() => scope.end(result));
}

/** One instrumentation that calls each of `parts` in order (their `wrap`s nest, the first outermost). */
export function combineInstrumentation(parts: Array<Instrumentation | undefined>): CombinedInstrumentation {
  const list = parts.filter((p): p is Instrumentation => p !== undefined);
  return {
    runStart(info) {
      const live = opened(list, (p) => p.runStart?.(info));
      return {
        trace: live.find((s) => s.trace)?.trace,
        wrap: (fn) => nest(live, fn),
        end: (error) => endAll(live, error),
      };
    },
    runExecution(info) {
      const live = opened(list, (p) => p.runExecution?.(info));
      return {
        wrap: (fn) => nest(live, fn),
        trace: () => {
          for (const s of live) {
            const t = attempt(() => s.trace?.());
            if (t) return t;
          }
          return undefined;
        },
        end: (result) => endAll(live, result),
      };
    },
    stepAttempt(info) {
      const live = opened(list, (p) => p.stepAttempt?.(info));
      return { wrap: (fn) => nest(live, fn), end: (result) => endAll(live, result) };
    },
    taskReceived: (info) => list.forEach((p) => safely(() => p.taskReceived?.(info))),
    deadLetter: (info) => list.forEach((p) => safely(() => p.deadLetter?.(info))),
    recovery: (info) => list.forEach((p) => safely(() => p.recovery?.(info))),
  };
}
