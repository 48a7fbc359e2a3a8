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

/**
 * A signal as a stream step's handler receives it: its type, its payload (validated by the stream's
 * schema for the type, when it has one), and where it stands in the stream run.
 */
export interface StreamSignal<P = unknown> {
  /** The signal type it was emitted with. */
  readonly type: string;
  /** The payload it was emitted with. */
  readonly payload: P;
  /** Position in the stream run: 1, 2, 3... in the order the signals were handled. */
  readonly seq: number;
  /** Unique id of the emit (stable when a step that emitted is retried). */
  readonly id: string;
}

/**
 * Where a stream step stands: `active` (handling signals), `suspended` (waiting for outside input; it
 * still gets its signals), or done: `completed` (with a result), `terminated`, `failed` (its handler
 * failed for good).
 */
export type StreamStepStatus = 'active' | 'suspended' | 'completed' | 'terminated' | 'failed';

/** A stream step's status and state, as the stream run keeps it and {@link StreamOutcome} reports it. */
export interface StreamStepState<S = unknown, R = unknown> {
  /** Where the step stands. */
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

/**
 * A stream run's aggregate: `running` while a signal is left to handle, `suspended` when none is and a
 * step waits for outside input, `completed` once every step completed, terminated or failed.
 */
export type StreamStatus = 'running' | 'suspended' | 'completed';

/** What `runStream` returns once the stream run settles: the aggregate status and every step's state. */
export interface StreamOutcome {
  /** The stream's name. */
  readonly stream: string;
  /** The stream run's id. */
  readonly streamRunId: string;
  /** `completed`: every step completed, terminated or failed. `suspended`: no signal is left to handle and a step waits for outside input. */
  readonly status: 'completed' | 'suspended';
  /** Sequence number of the last signal taken (handled or rejected). */
  readonly seq: number;
  /** How many signals reached at least one step (rejected ones and ones nobody subscribes to do not count). */
  readonly version: number;
  /** Each stream step's status, state and result, by step name. */
  readonly steps: Record<string, StreamStepState>;
  /** Signals acknowledged but skipped because their payload failed the type's schema (the last 100). */
  readonly rejected: Array<{ seq: number; type: string; id: string; reason: string }>;
}

/**
 * Options of `emit(stream, type, payload, options)`. Outside a stream step handler, `streamRunId` is
 * required.
 */
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

/**
 * What a stream step's handler returns, made by the context's `resume`, `suspend`, `terminate` or
 * `complete`; returning nothing is `resume` with the state unchanged. `state` replaces the step's state.
 */
export type StreamReaction<S = unknown, R = unknown> =
  | { action: 'resume'; state?: S }
  | { action: 'suspend'; state?: S }
  | { action: 'terminate'; reason?: string; state?: S }
  | { action: 'complete'; result?: R; state?: S };

/**
 * The second argument of a stream step's handler: the step's state, the reactions it can return,
 * and `emit` to send further signals to the same stream run.
 */
export interface StreamStepContext<S> extends StreamEmitter {
  /** This step's state before the signal (its `initialState` at first). */
  readonly state: S;
  /** The step's name. */
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

/**
 * A stream step's handler: called with each signal of a type the step subscribes to, as a durable step
 * (retried as its options say, recorded once). Returns a {@link StreamReaction}, or nothing to resume.
 */
export type StreamHandler<S, P = any> = (signal: StreamSignal<P>, ctx: StreamStepContext<S>) => StreamReaction<S> | void | Promise<StreamReaction<S> | void>;

/**
 * Options of `streamStep(stream, options, handler)`: the step's name, the signal types it handles, its
 * first state, and the step options of its handler's durable step (retries, timeout).
 *
 * @example
 * ```ts
 * import { defineStream, streamStep } from '@durably/core';
 *
 * const orders = defineStream<{ orderId: string }>('orders', (input, s) => s.emit('order.placed', input));
 * streamStep(orders, { name: 'count', signals: ['order.placed'], initialState: 0 }, (signal, ctx) => ctx.resume(ctx.state + 1));
 * ```
 */
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

/** Options of `defineStream(name, body, options)`. */
export interface StreamOptions {
  /** Queue of the stream's runs (default "default"); workers listening on it run the stream. */
  queue?: string;
  /** A stream run continues as new (keeping its state) after handling this many signals, so its history stays bounded. Default 200. */
  signalsPerRun?: number;
  /** Optional schema per signal type (zod or anything with safeParse). A payload that fails it is acknowledged, recorded in `rejected`, and skipped. */
  schemas?: Record<string, PayloadSchema<unknown>>;
}

/**
 * A stream made by `defineStream`: pass it to `streamStep`, `runStream`, `startStream` and `emit`.
 * `I` is the input of its start body.
 */
export interface Stream<I = unknown> {
  /** Tells a stream from a workflow or step. */
  readonly kind: 'stream';
  /** The stream's name, unique in the process. */
  readonly name: string;
  /** The queue its stream runs go to. */
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


/**
 * A stream run's state as `inspectStream` reads it at any moment: like {@link StreamOutcome}, but its
 * `status` may also be `running` (a signal is still left to handle).
 */
export type StreamSnapshot = Omit<StreamOutcome, 'status'> & { readonly status: StreamStatus };

