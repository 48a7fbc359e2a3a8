import type { Duration } from '@durably/contracts';
import type { PayloadSchema } from '../../engine/definitions.js';
import type { StepOptions } from '../definitions.js';
import type { Client } from '../../runtime/client/client.js';

/** The built-in workflow that runs every stream run. Workers register it themselves. */
export const STREAM_WORKFLOW = 'durably.stream';
/** The one signal name a stream run listens on (emits and watch requests). */
export const INBOX = 'durably.stream';
/** A stream run continues as new after this many handled signals, so its history stays bounded. */
export const SIGNALS_PER_RUN = 200;
/** Ids of the last emits handled, kept to drop the duplicate of a retried emit. */
export const DEDUP_WINDOW = 1000;

export interface StreamSignal<P = unknown> {
  readonly type: string;
  readonly payload: P;
  /** Position in the stream run: 1, 2, 3... in the order the signals were handled. */
  readonly seq: number;
  /** Unique id of the emit (stable when a step that emitted is retried). */
  readonly id: string;
}

export type StreamStepStatus = 'active' | 'suspended' | 'completed' | 'terminated' | 'failed';

export interface StreamStepState<S = unknown, R = unknown> {
  status: StreamStepStatus;
  /** The handler's own state, as it last returned it. */
  state?: S;
  /** Set by `complete(result)`. */
  result?: R;
  /** Why it terminated or failed. */
  reason?: string;
  /** Signals this step has handled. */
  handled: number;
}

export type StreamStatus = 'running' | 'suspended' | 'completed';

export interface StreamOutcome {
  readonly stream: string;
  readonly streamRunId: string;
  /** `completed`: every step completed, terminated or failed. `suspended`: no signal is left to handle and a step waits for outside input. */
  readonly status: 'completed' | 'suspended';
  /** Sequence number of the last signal taken (handled or rejected). */
  readonly seq: number;
  /** How many signals reached at least one step (rejected ones and ones nobody subscribes to do not count). */
  readonly version: number;
  readonly steps: Record<string, StreamStepState>;
  /** Signals acknowledged but skipped because their payload failed the type's schema (the last 100). */
  readonly rejected: Array<{ seq: number; type: string; id: string; reason: string }>;
}

export interface EmitOptions {
  /** Deliver after this delay (`'10m'`, ms). */
  delay?: Duration;
  /** The stream run to emit to. Inside a stream step handler it defaults to the handler's own run. */
  streamRunId?: string;
  /** Client to use outside workers (default: the default client). */
  client?: Client;
}

/** What a stream's start body and its handlers can do. */
export interface StreamEmitter {
  readonly streamRunId: string;
  /** Emits a signal to this stream run, handled after the current one (or after `delay`). */
  emit(type: string, payload?: unknown, options?: { delay?: Duration }): void;
}

export type StreamReaction<S = unknown, R = unknown> =
  | { action: 'resume'; state?: S }
  | { action: 'suspend'; state?: S }
  | { action: 'terminate'; reason?: string; state?: S }
  | { action: 'complete'; result?: R; state?: S };

export interface StreamStepContext<S> extends StreamEmitter {
  /** This step's state before the signal (its `initialState` at first). */
  readonly state: S;
  readonly stepName: string;
  /** Keep handling signals (the default when the handler returns nothing). */
  resume(state?: S): StreamReaction<S, never>;
  /** Wait for outside input: the stream's aggregate becomes `suspended` once nothing else is left to do. The step still gets its signals. */
  suspend(state?: S): StreamReaction<S, never>;
  /** Stop: this step gets no more signals. */
  terminate(reason?: string, state?: S): StreamReaction<S, never>;
  /** Stop with a result: this step gets no more signals. */
  complete<R>(result: R, state?: S): StreamReaction<S, R>;
}

export type StreamHandler<S, P = any> = (signal: StreamSignal<P>, ctx: StreamStepContext<S>) => StreamReaction<S> | void | Promise<StreamReaction<S> | void>;

export interface StreamStepOptions<S> extends Omit<StepOptions, 'schema' | 'queue' | 'rateLimit'> {
  /** Unique in the stream. */
  name: string;
  /** Signal types this step handles. */
  signals: string[];
  /** The step's state before its first signal. */
  initialState?: S;
}

export interface StreamStepDefinition {
  name: string;
  signals: Set<string>;
  initialState: unknown;
  call: (signal: StreamSignal, state: unknown, streamRunId: string) => Promise<HandlerResult>;
}

export interface StreamOptions {
  /** Queue of the stream's runs (default "default"); workers listening on it run the stream. */
  queue?: string;
  /** A stream run continues as new (keeping its state) after handling this many signals, so its history stays bounded. Default 200. */
  signalsPerRun?: number;
  /** Optional schema per signal type (zod or anything with safeParse). A payload that fails it is acknowledged, recorded in `rejected`, and skipped. */
  schemas?: Record<string, PayloadSchema<unknown>>;
}

export interface Stream<I = unknown> {
  readonly kind: 'stream';
  readonly name: string;
  readonly queue: string;
  /** @internal */
  readonly signalsPerRun: number;
  /** @internal */
  readonly steps: Map<string, StreamStepDefinition>;
  /** @internal */
  readonly schemas: Record<string, PayloadSchema<unknown>>;
  /** @internal Runs the start body in a durable step; returns what it emitted. */
  readonly start: (input: I, streamRunId: string) => Promise<Emitted[]>;
}

/** An emitted signal as the stream run carries it. */
export interface Emitted {
  id: string;
  type: string;
  payload: unknown;
  /** Absolute time of delivery, for delayed signals. */
  deliverAt?: number;
}

export interface HandlerResult {
  reaction: StreamReaction;
  emits: Emitted[];
}

export type InboxMessage = ({ kind: 'emit' } & Emitted) | ({ kind: 'watch' } & Watcher);

/** A workflow in runStream: told the outcome once the stream settles past the version it last saw. */
export interface Watcher {
  watcher: string;
  watchId: string;
  afterVersion: number;
}

/** Everything a stream run knows; carried to the next run on continueAsNew. */
export interface StreamRunState {
  seq: number;
  version: number;
  steps: Record<string, StreamStepState>;
  queue: Emitted[];
  delayed: Emitted[];
  watchers: Watcher[];
  rejected: StreamOutcome['rejected'];
  seen: string[];
}


export type StreamSnapshot = Omit<StreamOutcome, 'status'> & { readonly status: StreamStatus };

