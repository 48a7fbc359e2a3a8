/**
 * The shapes of the dashboard's HTTP API responses, shared by the server (which builds them) and the
 * web page (which reads them). Everything here is plain JSON: payloads stored devalue-serialized are
 * sent as `RenderedValue` trees, so a Date, a Map or a BigInt reaches the page as what it is, not as
 * a lossy JSON guess.
 */

export type RunStatus = 'pending' | 'running' | 'suspended' | 'completed' | 'failed' | 'cancelled' | 'continued';

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

export interface ErrorView {
  name: string;
  message: string;
  stack?: string;
  code?: string;
  fatal?: boolean;
  cause?: ErrorView;
}

export interface RunSummary {
  runId: string;
  workflow: string;
  status: RunStatus;
  queue: string;
  tags: string[];
  createdAt: number;
  updatedAt: number;
  startAt?: number;
  finishedAt?: number;
  parentRunId?: string;
  idempotencyKey?: string;
  /** seq of the last event: the number of events in the log. */
  lastSeq: number;
}

export interface RunPageResponse {
  runs: RunSummary[];
  nextCursor?: string;
}

export interface StatusCountsResponse {
  /** Runs per status matching the filter; `atLeast` when the count stopped at the cap. */
  counts: Record<RunStatus, { count: number; atLeast: boolean }>;
  cap: number;
}

export interface EventView {
  seq: number;
  type: string;
  at: number;
  correlationId?: string;
  /** Plain fields of the event as stored (names, ids, times, attempt numbers). Hook tokens are redacted. */
  fields: Record<string, unknown>;
  /** Devalue-serialized payloads of the event (args, result, payload, value), rendered. */
  values?: Record<string, RenderedValue>;
  error?: ErrorView;
}

/** How an attempt's start time was found: recorded, or estimated from the log around it. */
export type AttemptStartSource = 'step_started' | 'retry_at' | 'step_scheduled' | 'previous_event';

export interface AttemptView {
  attempt: number;
  start: number;
  startSource: AttemptStartSource;
  end?: number;
  outcome: 'completed' | 'failed' | 'running';
  error?: ErrorView;
  retryAt?: number;
  workerId?: string;
}

/** `waiting`: on a stepHook; `abandoned`: the run ended before the step did. */
export type StepStatus = 'scheduled' | 'running' | 'retrying' | 'waiting' | 'completed' | 'failed' | 'abandoned';

export interface StepView {
  correlationId: string;
  name: string;
  status: StepStatus;
  queue?: string;
  /** Recorded for dispatched steps only (inline steps run with the workflow's values). */
  args?: RenderedValue;
  result?: RenderedValue;
  attempts: AttemptView[];
}

export interface TimerView {
  timerId: string;
  fireAt: number;
  /** sleep, retry, hook, signal, deadline, or the timer id's own prefix. */
  kind: string;
  correlationId?: string;
}

export interface HookView {
  correlationId: string;
  name: string;
  /** The last characters of the token, to tell hooks apart; the token itself is never sent. */
  tokenHint: string;
  createdAt: number;
  expiresAt?: number;
  status: 'waiting' | 'received' | 'timed_out';
  receivedAt?: number;
  payload?: RenderedValue;
  /** Created by stepHook inside a step (its id is "<step>/<hook>"). */
  inStep: boolean;
}

export interface SignalView {
  seq: number;
  name: string;
  at: number;
  payload: RenderedValue;
  carried: boolean;
}

export interface ChildView {
  correlationId: string;
  childRunId: string;
  workflow: string;
  parentClosePolicy: string;
  startedAt: number;
  /** From the child's own record when it is readable, else from the parent's log. */
  status: RunStatus | 'unknown';
  endedAt?: number;
}

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

export interface ChainResponse {
  runs: RunSummary[];
}

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

export interface DeadLetterView {
  id: string;
  /** The engine's queue name (without the broker's "durably." prefix). */
  queue: string;
  brokerQueue: string;
  reason: string;
  deliveryCount: number;
  at: number;
  /** The message body as stored, cut at 4,000 characters. */
  body: string;
  /** What the engine's envelope says, when the body is one. */
  task?: { kind: string; runId?: string; stepId?: string; name?: string; reason?: string };
}

export interface DeadLettersResponse {
  queues: Array<{ queue: string; deadLetters: DeadLetterView[]; error?: string }>;
}

export interface HealthResponse {
  ok: boolean;
  storage: { ok: boolean; ms: number; error?: string };
  version: string;
}

export interface ApiError {
  error: { code: string; message: string; issues?: Array<{ path: string; message: string }> };
}

// ---- Timeline ----

export type LaneKind = 'step' | 'sleep' | 'hook' | 'signal' | 'child';

export type BarKind = 'attempt' | 'retry_wait' | 'sleep' | 'hook_wait' | 'signal_wait' | 'child';

export type BarState = 'completed' | 'failed' | 'retrying' | 'open' | 'timed_out' | 'cancelled';

export interface TimelineBar {
  kind: BarKind;
  start: number;
  /** Absent while it is still going on: the page draws it up to now. */
  end?: number;
  /** When an open wait is due to end (a sleep's wake-up, a hook's or signal's timeout, a retry). */
  plannedEnd?: number;
  state: BarState;
  label: string;
  /** The start is estimated from the log, not recorded (see AttemptStartSource). */
  estimatedStart?: boolean;
  attempt?: number;
  error?: string;
  childRunId?: string;
  /** seq of the event that opened and the one that closed the bar. */
  startSeq?: number;
  endSeq?: number;
}

export interface TimelineLane {
  id: string;
  kind: LaneKind;
  label: string;
  bars: TimelineBar[];
}

export type MarkerKind = 'failure' | 'signal' | 'cancel_requested' | 'interrupted' | 'run_end';

export interface TimelineMarker {
  kind: MarkerKind;
  at: number;
  label: string;
  seq: number;
  laneId?: string;
}

export interface TimelineLayout {
  start: number;
  /** The run's end, absent while it runs. */
  end?: number;
  lanes: TimelineLane[];
  markers: TimelineMarker[];
}
