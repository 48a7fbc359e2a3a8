/**
 * The shapes of the dashboard's HTTP API responses, shared by the server (which builds them) and the
 * web page (which reads them). Everything here is plain JSON: payloads stored devalue-serialized are
 * sent as `RenderedValue` trees, so a Date, a Map or a BigInt reaches the page as what it is, not as
 * a lossy JSON guess.
 */

export type RunStatus = 'pending' | 'running' | 'suspended' | 'completed' | 'failed' | 'cancelled' | 'continued';

/**
 * Every run status, in lifecycle order: the status filter's choices, and the keys of {@link StatusCountsResponse.counts}.
 */
export const RUN_STATUS_LIST: readonly RunStatus[] = ['pending', 'running', 'suspended', 'completed', 'failed', 'cancelled', 'continued'];

/** A stored value, deserialized on the server and described node by node. */
export type RenderedValue =
  | { type: 'undefined' }
  | { type: 'null' }
  | { type: 'boolean'; value: boolean }
  /** As text, so NaN, Infinity and -0 survive JSON. */
  | { type: 'number'; value: string }
  | { type: 'bigint'; value: string }
  | { type: 'string'; value: string; truncated?: number }
  /** ISO 8601, or "Invalid Date". */
  | { type: 'date'; value: string }
  | { type: 'regexp'; value: string }
  | { type: 'error'; error: ErrorView }
  | { type: 'array'; items: RenderedValue[]; more?: number }
  | { type: 'object'; entries: Array<[string, RenderedValue]>; more?: number }
  | { type: 'map'; entries: Array<[RenderedValue, RenderedValue]>; more?: number }
  | { type: 'set'; items: RenderedValue[]; more?: number }
  /** A typed array or ArrayBuffer: its class, length and the first bytes in hex. */
  | { type: 'bytes'; kind: string; length: number; hex: string }
  /** A value already shown higher up (a repeated or cyclic reference), by its path. */
  | { type: 'ref'; path: string }
  /** Anything else (a symbol, a class instance): its String() form. */
  | { type: 'other'; value: string }
  /** The stored text could not be deserialized: the reason and the start of the raw text. */
  | { type: 'unreadable'; reason: string; raw: string };

/**
 * An error as the API sends it: the stored error (see `SerializedError` in @durably/core), with its `cause` chain.
 */
export interface ErrorView {
  name: string;
  message: string;
  stack?: string;
  code?: string;
  /** True for an error that is never retried (FatalError and its subclasses). */
  fatal?: boolean;
  cause?: ErrorView;
}

/**
 * A run in a list (`GET /api/runs`, `/api/runs/:runId/chain`): its record without arguments or
 * result. Times are epoch milliseconds.
 */
export interface RunSummary {
  runId: string;
  workflow: string;
  status: RunStatus;
  queue: string;
  /** Labels given at start; empty when none. */
  tags: string[];
  /** Search attributes the run set (setAttributes); absent when none. */
  attributes?: Record<string, string | number | boolean>;
  createdAt: number;
  updatedAt: number;
  /** Delayed start: the run does not begin before this time. */
  startAt?: number;
  finishedAt?: number;
  /** Set for a child run: the run that started it. */
  parentRunId?: string;
  idempotencyKey?: string;
  /** seq of the last event: the number of events in the log. */
  lastSeq: number;
}

/** `GET /api/runs`: one page of runs, newest first (50 by default, `?limit=` up to 1,000). */
export interface RunPageResponse {
  runs: RunSummary[];
  /** Present when more runs match: pass it as `?cursor=` for the next page. */
  nextCursor?: string;
}

/**
 * `GET /api/runs/counts`: how many runs are in each status, under the same filters as the list.
 * Counting stops at `cap` runs per status, so a large store answers quickly; results are cached for 3 s.
 */
export interface StatusCountsResponse {
  /** Runs per status matching the filter; `atLeast` when the count stopped at the cap. */
  counts: Record<RunStatus, { count: number; atLeast: boolean }>;
  /** The most runs counted per status (the app's `countCap`, default 1,000). */
  cap: number;
}

/** One event of a run's log (`GET /api/runs/:runId/events`, and `events` of the run detail). */
export interface EventView {
  /** Position in the log, from 1. */
  seq: number;
  /** The event type (`run_created`, `step_completed`, ...). */
  type: string;
  /** When it was recorded, epoch milliseconds. */
  at: number;
  /** The position of the durable call the event belongs to. */
  correlationId?: string;
  /** Plain fields of the event as stored (names, ids, times, attempt numbers). Hook tokens are redacted. */
  fields: Record<string, unknown>;
  /** Devalue-serialized payloads of the event (args, result, payload, value), rendered. */
  values?: Record<string, RenderedValue>;
  /** The event's error (a failed attempt, run or child). */
  error?: ErrorView;
}

/** How an attempt's start time was found: recorded, or estimated from the log around it. */
export type AttemptStartSource = 'step_started' | 'retry_at' | 'step_scheduled' | 'previous_event';

/** One attempt of a step, read from the log. Times are epoch milliseconds. */
export interface AttemptView {
  /** 1 for the first attempt. */
  attempt: number;
  /** When it began (recorded or estimated: see `startSource`). */
  start: number;
  startSource: AttemptStartSource;
  /** When it completed or failed; absent while it runs. */
  end?: number;
  outcome: 'completed' | 'failed' | 'running';
  error?: ErrorView;
  /** Set on a failed attempt that another will follow: when that one is due. */
  retryAt?: number;
  /** The worker that ran it, when recorded. */
  workerId?: string;
}

/** `waiting`: on a stepHook; `abandoned`: the run ended before the step did. */
export type StepStatus = 'scheduled' | 'running' | 'retrying' | 'waiting' | 'completed' | 'failed' | 'abandoned';

/** One step call of a run, with every attempt. */
export interface StepView {
  /** The step call's position in the run. */
  correlationId: string;
  /** The step's name. */
  name: string;
  status: StepStatus;
  /** The queue it was dispatched to (dispatched steps only). */
  queue?: string;
  /** Recorded for dispatched steps only (inline steps run with the workflow's values). */
  args?: RenderedValue;
  /** The value it returned, once completed. */
  result?: RenderedValue;
  attempts: AttemptView[];
}

/** A durable timer of the run that is not cleared yet (due, or still to come). */
export interface TimerView {
  timerId: string;
  /** When it fires, epoch milliseconds. */
  fireAt: number;
  /** sleep, retry, hook, signal, deadline, or the timer id's own prefix. */
  kind: string;
  correlationId?: string;
}

/** A hook the run created, and what became of it. Times are epoch milliseconds. */
export interface HookView {
  correlationId: string;
  name: string;
  /** The last characters of the token, to tell hooks apart; the token itself is never sent. */
  tokenHint: string;
  createdAt: number;
  /** When its timeout passes, if it has one. */
  expiresAt?: number;
  /** A multi-use hook stays `waiting` (resumable) after each payload until its workflow closes it (`closed`) or it times out. */
  status: 'waiting' | 'received' | 'timed_out' | 'closed';
  receivedAt?: number;
  /** The payload it was resumed with (a multi-use hook: the latest). */
  payload?: RenderedValue;
  /** Made with `create({ multiUse: true })`: it takes a payload per resume. */
  multiUse?: boolean;
  /** How many payloads it received. */
  received?: number;
  /** Created by stepHook inside a step (its id is "<step>/<hook>"). */
  inStep: boolean;
}

/** A signal the run received. */
export interface SignalView {
  /** The seq of its `signal_received` event. */
  seq: number;
  name: string;
  at: number;
  payload: RenderedValue;
  /** True when it was carried over from the run this one continues (continueAsNew). */
  carried: boolean;
}

/** A child run the run started. */
export interface ChildView {
  correlationId: string;
  childRunId: string;
  workflow: string;
  /** What happens to the child when the parent ends: `terminate`, `request_cancel` or `abandon`. */
  parentClosePolicy: string;
  startedAt: number;
  /** From the child's own record when it is readable, else from the parent's log. */
  status: RunStatus | 'unknown';
  endedAt?: number;
}

/**
 * `GET /api/runs/:runId`: everything about one run: its record with arguments and result, its log,
 * and the views derived from the log (steps, timers, hooks, signals, children, timeline).
 * Answers 404 (`RUN_NOT_FOUND`) for an unknown run.
 */
export interface RunDetailResponse {
  run: RunSummary & {
    args: RenderedValue;
    result?: RenderedValue;
    error?: ErrorView;
    continuedFrom?: string;
    continuedTo?: string;
    scheduleId?: string;
    scheduledAt?: number;
  };
  events: EventView[];
  steps: StepView[];
  timers: TimerView[];
  hooks: HookView[];
  signals: SignalView[];
  children: ChildView[];
  timeline: TimelineLayout;
}

/** `GET /api/runs/:runId/chain`: the runs linked by continueAsNew that this run belongs to, oldest first. */
export interface ChainResponse {
  runs: RunSummary[];
}

/**
 * A schedule as `GET /api/schedules` and `/api/schedules/:scheduleId` send it (see `ScheduleRecord`
 * in @durably/core for the fields). Times are epoch milliseconds.
 */
export interface ScheduleView {
  scheduleId: string;
  workflow: string;
  queue: string;
  args: RenderedValue;
  spec: { cron?: string; timezone?: string; everyMs?: number };
  overlap: string;
  catchUp: string;
  paused: boolean;
  nextFireAt?: number;
  lastFireAt?: number;
  lastRunId?: string;
  endAt?: number;
  jitterMs?: number;
  stats: { fired: number; skipped: number; running: string[] };
  history: Array<{ at: number; action: string; detail?: string }>;
  createdAt: number;
  updatedAt: number;
}

/** A dead-lettered broker message, with what its envelope says about the task. */
export interface DeadLetterView {
  id: string;
  /** The engine's queue name (without the broker's "durably." prefix). */
  queue: string;
  /** The queue's name in the broker. */
  brokerQueue: string;
  /** Why the broker gave up on it (the last handler error). */
  reason: string;
  /** How many times it was delivered. */
  deliveryCount: number;
  /** When it was dead-lettered, epoch milliseconds. */
  at: number;
  /** The message body as stored, cut at 4,000 characters. */
  body: string;
  /** What the engine's envelope says, when the body is one. */
  task?: { kind: string; runId?: string; stepId?: string; name?: string; reason?: string };
}

/**
 * `GET /api/dead-letters`: the dead letters of each queue (`?queue=` for one; up to `?limit=`, default
 * 100, per queue). A queue whose broker call failed has `error` and no letters.
 */
export interface DeadLettersResponse {
  queues: Array<{ queue: string; deadLetters: DeadLetterView[]; error?: string }>;
}

/** `GET /api/health`: 200 when the storage answers a one-run list, else 503. */
export interface HealthResponse {
  ok: boolean;
  /** The storage check: whether it answered, how long it took (ms), and its error. */
  storage: { ok: boolean; ms: number; error?: string };
  /** The @durably/dashboard version. */
  version: string;
}

/**
 * The body of every non-2xx API answer. `code` is a Durably error code (`RUN_NOT_FOUND`...) or the
 * API's own (`INVALID_REQUEST` with `issues` per bad field, `UNAUTHORIZED`, `INTERNAL`).
 */
export interface ApiError {
  error: { code: string; message: string; issues?: Array<{ path: string; message: string }> };
}

// ---- Timeline ----

/** What a timeline lane shows: one step, sleep, hook, signal wait or child run. */
export type LaneKind = 'step' | 'sleep' | 'hook' | 'signal' | 'child';

/**
 * What a timeline bar spans: a step attempt, the wait before a retry, a sleep, a hook or signal wait, a child run.
 */
export type BarKind = 'attempt' | 'retry_wait' | 'sleep' | 'hook_wait' | 'signal_wait' | 'child';

/**
 * How a bar ended: `open` while it goes on; `timed_out` for a hook or signal wait; `retrying` for a failed attempt another follows.
 */
export type BarState = 'completed' | 'failed' | 'retrying' | 'open' | 'timed_out' | 'cancelled';

/** A span of time on a lane. Times are epoch milliseconds. */
export interface TimelineBar {
  kind: BarKind;
  start: number;
  /** Absent while it is still going on: the page draws it up to now. */
  end?: number;
  /** When an open wait is due to end (a sleep's wake-up, a hook's or signal's timeout, a retry). */
  plannedEnd?: number;
  state: BarState;
  /** Text shown on the bar. */
  label: string;
  /** The start is estimated from the log, not recorded (see AttemptStartSource). */
  estimatedStart?: boolean;
  /** For an attempt bar: its number. */
  attempt?: number;
  /** For a failed attempt: the error message. */
  error?: string;
  /** For a child bar: the child run. */
  childRunId?: string;
  /** seq of the event that opened and the one that closed the bar. */
  startSeq?: number;
  endSeq?: number;
}

/** A row of the timeline: one durable call and its bars, in the order the run made the calls. */
export interface TimelineLane {
  /** `<kind>:<correlationId>`. */
  id: string;
  kind: LaneKind;
  label: string;
  bars: TimelineBar[];
}

/**
 * An instant on the timeline: an attempt failed, a signal arrived, cancel was asked, a worker was lost, the run ended.
 */
export type MarkerKind = 'failure' | 'signal' | 'cancel_requested' | 'interrupted' | 'run_end';

/** An instant on the timeline. */
export interface TimelineMarker {
  kind: MarkerKind;
  /** When, epoch milliseconds. */
  at: number;
  label: string;
  /** The seq of the event it marks. */
  seq: number;
  /** The lane it belongs to, when it belongs to one. */
  laneId?: string;
}

/** A run laid out as a timeline (`layoutTimeline`, and `timeline` of the run detail). */
export interface TimelineLayout {
  /** The run's creation time, epoch milliseconds. */
  start: number;
  /** The run's end, absent while it runs. */
  end?: number;
  lanes: TimelineLane[];
  markers: TimelineMarker[];
}
