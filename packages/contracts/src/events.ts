import type { Serialized, SerializedError } from './serialization.js';
import type { AttributePatch } from './attributes.js';

/**
 * The event model. Each run has an append-only log of these; `seq` increases by one from 1 with no
 * gaps. Everything else (run status, result, timers) is a projection of the log. This union is the
 * single list of event types, so `switch (event.type)` is checked for exhaustiveness.
 *
 * `correlationId` ties the events of one durable call together. It is the call's position in the
 * workflow's call order ("1", "2", ... ; "3.1" for retries is not used: attempts carry `attempt`).
 */
export type DurablyEvent = { [K in EventType]: EventOf<K> }[EventType];

/**
 * The `data` of each event type, by type: the single list of what a run's log can hold. Names
 * are snake_case; fields are JSON (values the workflow gave are `Serialized` strings); times are
 * epoch milliseconds.
 */
export interface EventDataMap {
  /** Always seq 1. The run's input. `continuedFrom`: the run that continued as this one. */
  run_created: {
    workflow: string;
    args: Serialized;
    queue: string;
    idempotencyKey?: string;
    startAt?: number;
    continuedFrom?: string;
    /** Set for a run started by a schedule: the slot it was started for, and the schedule. */
    scheduledAt?: number;
    scheduleId?: string;
    /** Set for a child run: the parent and the position of its startChild call. */
    parent?: { runId: string; correlationId: string; parentClosePolicy: ParentClosePolicy };
    /**
     * How deep in a family of child runs this run is (0: started by a client, 1: its child...) and
     * the deepest a descendant may be, fixed by the client that started the family's first run
     * (`limits.maxChildDepth`), so every replay of every member decides a startChild alike.
     */
    nesting?: { depth: number; maxDepth: number };
    /** Signals the previous run (continueAsNew) had received but not consumed, in arrival order. */
    carriedSignals?: Array<{ name: string; payload: Serialized }>;
    /**
     * W3C trace context (OpenTelemetry) of whoever started the run: every worker that executes the
     * run continues this trace. Child runs and continuations inherit their parent's.
     */
    traceparent?: string;
    tracestate?: string;
  };
  /** A worker began executing the run (first time, or again after a crash). */
  run_started: { workerId: string };
  /** The worker executing the run was lost (crash, hand-back); `attempt` counts the recoveries. */
  run_interrupted: { attempt: number; workerId: string };
  /**
   * The run waits for a worker that has its workflow: `workerId` received it without having it
   * (`registered` lists what that worker has, at most 50). Written once per wait; the run stays as it was.
   */
  run_waiting: { reason: 'workflow_not_registered'; workflow: string; queue: string; workerId: string; registered: string[] };
  /** The run returned; `result` is its serialized return value. */
  run_completed: { result: Serialized };
  /** The run threw (or a step failed for good and the workflow did not catch it). */
  run_failed: { error: SerializedError };
  /** The run ended by cancellation; `reason` is the one given to cancel(). */
  run_cancelled: { reason?: string };
  /** The run ended by continueAsNew; `nextRunId` carries on with a fresh history. */
  run_continued: { nextRunId: string };
  /** A step dispatched to the broker (dispatch mode); inline steps skip it. */
  step_scheduled: { name: string; args: Serialized; queue: string };
  /**
   * An attempt of the step begins in `workerId`, written before its body runs. The worker holds the
   * attempt under a lease until `leaseUntil`, renewed while the body runs (the run's timer
   * `lease:<position>` holds the current expiry); another worker that finds the attempt with no
   * outcome leaves it to its owner while the lease lives, and takes it over once it lapses. The time
   * from this event to the attempt's outcome is the attempt's duration.
   */
  step_started: { name: string; attempt: number; workerId: string; leaseUntil: number };
  /** An attempt of a step failed. `retryAt` is set when another attempt will follow. */
  step_failed: { name: string; attempt: number; error: SerializedError; retryAt?: number };
  /** The step succeeded on `attempt`; its result is what every replay returns. */
  step_completed: { name: string; attempt: number; result: Serialized };
  /** A durable sleep began; its timer wakes the run at `wakeAt`. */
  sleep_started: { wakeAt: number };
  /** The sleep's timer fired. */
  sleep_completed: Record<string, never>;
  /** A deterministic value (now, random, uuid) recorded so replay returns the same one. */
  value_recorded: { kind: 'now' | 'random' | 'uuid'; value: Serialized };
  /** cancel() was called; the run sees it at its next durable call. */
  cancel_requested: { reason?: string };
  /** A hook was created; its token resumes it (`multiUse`: it takes payloads until it is closed or times out). */
  hook_created: { name: string; token: string; expiresAt?: number; multiUse?: true };
  /** resumeHook delivered a payload (a multi-use hook gets one such event per resume, in order). */
  hook_received: { payload: Serialized };
  /** The hook's timeout passed before it was resumed (a multi-use hook: before it was closed). */
  hook_timed_out: Record<string, never>;
  /** The workflow closed its multi-use hook (`hook.close()`); the token was spent with this event. */
  hook_closed: { name: string };
  /** sendSignal delivered a named message (buffered until a waitForSignal takes it). */
  /** `carried`: moved here from the run this one continues (it arrived there after the continuation was created). */
  signal_received: { name: string; payload: Serialized; carried?: boolean };
  /** A waitForSignal with a timeout began waiting. */
  signal_waiting: { name: string; timeoutAt?: number };
  /** A waitForSignal's timeout passed with no signal of that name. */
  signal_timed_out: { name: string };
  /** The workflow cancelled a pending waitForSignal (`wait.cancel()`): it takes no later signal. */
  signal_wait_cancelled: { name: string };
  /**
   * `client.update()` delivered a request to the run (to the handler of its name, else buffered
   * until one is set). `updateId` identifies it: a retried call with the same id appends nothing and
   * gets the recorded answer.
   */
  update_requested: { updateId: string; name: string; payload: Serialized };
  /** The update's handler returned: `result` is the answer `client.update()` resolves with. */
  update_completed: { updateId: string; name: string; result: Serialized };
  /**
   * The update's handler threw (the run goes on), or the run ended before handling it: `error` is
   * what `client.update()` rejects with, as the cause of an UpdateFailedError.
   */
  update_failed: { updateId: string; name: string; error: SerializedError };
  /**
   * The update's schema or `validate` refused the payload in the caller: nothing else of the update
   * is written (no request, so the run never sees it; replay ignores this event). `reason` is the
   * refusal's message.
   */
  update_rejected: { updateId: string; name: string; reason: string };
  /**
   * The workflow cancelled a cancellation scope (`cancellable(fn).cancel()`, a `withTimeout` that
   * fired); `correlationId` is the scope's id (`scope:<n>`, numbered by creation in the run). `calls`
   * are the positions of the calls it cancelled then (steps, timers, waits, children): a step worker
   * running one of them stops, and a replay checks the code cancels the same ones.
   */
  scope_cancelled: { reason?: string; calls: string[] };
  /** A condition() with a timeout began waiting for its predicate. */
  condition_waiting: { timeoutAt: number };
  /** That condition's timeout passed before its predicate turned true (it resolved false). */
  condition_timed_out: Record<string, never>;
  /**
   * setAttributes() changed the run's search attributes: merged into the record's `attributes` by the
   * same append (a key set to null is removed).
   */
  attributes_set: { attributes: AttributePatch };
  /** patched(id) took the new code path. */
  patch_marker: { patchId: string };
  /** startChild created a child run. */
  child_started: { childRunId: string; workflow: string; parentClosePolicy: ParentClosePolicy };
  /** The child run ended (written to the parent's log by the worker that finished the child). */
  child_completed: { childRunId: string; result: Serialized };
  /** The child run failed or was cancelled. */
  child_failed: { childRunId: string; error: SerializedError };
}

/** What happens to a running child when its parent ends: cancel it at once, ask it to cancel, or leave it. */
export type ParentClosePolicy = 'terminate' | 'request_cancel' | 'abandon';

/** The name of an event type: `'run_created'`, `'step_completed'`, ... */
export type EventType = keyof EventDataMap;

/** One event of type `K` in a run's log. */
export interface EventOf<K extends EventType> {
  /** The run whose log holds it. */
  runId: string;
  /** Position in the log: 1 for `run_created`, then one more for each event, with no gaps. */
  seq: number;
  /** The event type; narrows `data`. */
  type: K;
  /** The position of the durable call this event belongs to; the events of one step, sleep or hook share it. */
  correlationId?: string;
  /** Epoch milliseconds at which the event was recorded. */
  at: number;
  data: EventDataMap[K];
}

/** An event before it is appended: storage does not assign anything, the engine sets seq. */
export type NewEvent = DurablyEvent;

/**
 * The event types that end a run: `run_completed`, `run_failed`, `run_cancelled`, `run_continued`.
 * Nothing is appended after one of them.
 */
export const TERMINAL_EVENT_TYPES = new Set<EventType>(['run_completed', 'run_failed', 'run_cancelled', 'run_continued']);

/**
 * Builds an event of type `type` for run `runId` at position `seq`, stamped `at` (epoch ms, default
 * now). Leaves `correlationId` out when it is not given. Pure: it writes nothing.
 *
 * @example
 * ```ts
 * import { makeEvent } from '@durably/core';
 *
 * const started = makeEvent('run-1', 2, 'run_started', { workerId: 'worker-a' });
 * ```
 */
export function makeEvent<K extends EventType>(
  runId: string,
  seq: number,
  type: K,
  data: EventDataMap[K],
  correlationId?: string,
  at = Date.now(),
): EventOf<K> {
  const event: EventOf<K> = { runId, seq, type, at, data };
  if (correlationId !== undefined) event.correlationId = correlationId;
  return event;
}
