/**
 * Streams: reactive, multi-actor workflows.
 *
 * A stream is a named channel with subscribers. A *stream run* (one per `streamRunId`) is a durable
 * run of the built-in workflow `durably.stream`: it takes the signals emitted to it one at a time,
 * numbers them (the per-stream-run sequence), validates each against its type's schema, and hands it
 * to every stream step subscribed to its type. A handler runs as a durable step (retried, recorded
 * once) and reacts: resume, suspend, terminate, or complete with a result; it may emit further
 * signals, now or later. Because a stream run is an ordinary run, its signals live in its own log:
 * two stream runs never see each other's signals, on any storage.
 *
 * A workflow calls `runStream(stream, { streamRunId, input })`: it suspends (holding nothing) until
 * the stream's aggregate is completed, or suspended (no signal left to handle and a step waiting for
 * outside input), and gets every stream step's status, state and result.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { context, currentScope, type StepContext, type WorkflowContext } from './context.js';
import {
  checkQueue,
  parseDuration,
  type Duration,
  DurableOnlyError,
  DurablyError,
  InvalidArgumentError,
  NotInWorkflowError,
  RunAlreadyFinishedError,
  RunNotFoundError,
  StreamFailedError,
  StreamNotDefinedError,
  StreamRunNotFoundError,
  deserialize,
  serialize,
} from '@durably/contracts';
import { step, workflow, type StepOptions } from './definitions.js';
import { getDefaultClient } from './config.js';
import { continueAsNew, defineQuery, shield, waitForSignal, type PayloadSchema } from './hooks.js';
import { sleep } from './context.js';
import type { Client } from './client/client.js';

/** The built-in workflow that runs every stream run. Workers register it themselves. */
export const STREAM_WORKFLOW = 'durably.stream';
/** The one signal name a stream run listens on (emits and watch requests). */
const INBOX = 'durably.stream';
/** A stream run continues as new after this many handled signals, so its history stays bounded. */
const SIGNALS_PER_RUN = 200;
/** Ids of the last emits handled, kept to drop the duplicate of a retried emit. */
const DEDUP_WINDOW = 1000;

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

interface StreamStepDefinition {
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
interface Emitted {
  id: string;
  type: string;
  payload: unknown;
  /** Absolute time of delivery, for delayed signals. */
  deliverAt?: number;
}

interface HandlerResult {
  reaction: StreamReaction;
  emits: Emitted[];
}

type InboxMessage = ({ kind: 'emit' } & Emitted) | ({ kind: 'watch' } & Watcher);

/** A workflow in runStream: told the outcome once the stream settles past the version it last saw. */
interface Watcher {
  watcher: string;
  watchId: string;
  afterVersion: number;
}

/** Everything a stream run knows; carried to the next run on continueAsNew. */
interface StreamRunState {
  seq: number;
  version: number;
  steps: Record<string, StreamStepState>;
  queue: Emitted[];
  delayed: Emitted[];
  watchers: Watcher[];
  rejected: StreamOutcome['rejected'];
  seen: string[];
}

const streams = new Map<string, Stream<any>>();

export function getStream(name: string): Stream | undefined {
  return streams.get(name);
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$/;
const RUN_ID = /^[A-Za-z0-9_.:=-]{1,52}$/;
const TYPE = /^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,99}$/;

function checkType(type: unknown, owner: string): string {
  if (typeof type !== 'string' || !TYPE.test(type)) {
    throw new InvalidArgumentError(`${owner}: the signal type ${JSON.stringify(type)} is invalid: use 1-100 letters, digits, "_", ".", ":", "/" and "-", starting with a letter or digit.`);
  }
  return type;
}

function checkStreamRunId(id: unknown, owner: string): string {
  if (typeof id !== 'string' || !RUN_ID.test(id)) {
    throw new InvalidArgumentError(`${owner}: streamRunId ${JSON.stringify(id)} is invalid: use 1-52 letters, digits, "_", ".", ":", "=" and "-".`);
  }
  return id;
}

function delayOf(options: { delay?: Duration } | undefined, owner: string): number {
  if (options?.delay === undefined) return 0;
  return parseDuration(options.delay, `${owner}({ delay })`);
}

/** Tag of the first run of a stream run (continuations are found through the chain). */
function tagOf(name: string, streamRunId: string): string {
  return `stream:${name}/${streamRunId}`;
}

/** The worker's clock inside a step (virtual under createTestEnv), else the system clock. */
function clockHere(): number {
  const scope = currentScope();
  return scope?.kind === 'step' && scope.context.client ? scope.context.client.clock() : Date.now();
}

/** Collects what a start body or handler emits; ids are stable across attempts of the same step. */
const emitScope = new AsyncLocalStorage<{ streamRunId: string; stream: string; emits: Emitted[]; idBase: string }>();

function collector(stream: string, streamRunId: string, idBase: string): { streamRunId: string; stream: string; emits: Emitted[]; idBase: string } {
  return { stream, streamRunId, emits: [], idBase };
}

function collect(scope: { streamRunId: string; emits: Emitted[]; idBase: string }, type: string, payload: unknown, delayMs: number): void {
  const emitted: Emitted = { id: `${scope.idBase}:${scope.emits.length + 1}`, type, payload };
  if (delayMs > 0) emitted.deliverAt = clockHere() + delayMs;
  scope.emits.push(emitted);
}

function emitterFor(scope: { streamRunId: string; emits: Emitted[]; idBase: string }): StreamEmitter {
  return {
    streamRunId: scope.streamRunId,
    emit(type, payload, options) {
      collect(scope, checkType(type, 'emit()'), payload, delayOf(options, 'emit'));
    },
  };
}

/**
 * Defines a stream. `body(input, s)` runs once when a stream run starts (as a durable step) and
 * usually emits the first signals; subscribe handlers with `streamStep(stream, ...)`.
 */
export function defineStream<I = void>(name: string, body?: (input: I, s: StreamEmitter) => void | Promise<void>, options: StreamOptions = {}): Stream<I> {
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new InvalidArgumentError(`defineStream: name ${JSON.stringify(name)} is invalid: use 1-40 letters, digits, "_", "." and "-", starting with a letter or digit.`);
  }
  if (body !== undefined && typeof body !== 'function') throw new InvalidArgumentError(`defineStream("${name}"): the body must be a function (input, s) => ...`);
  const schemas = options.schemas ?? {};
  for (const [type, schema] of Object.entries(schemas)) {
    checkType(type, `defineStream("${name}") schemas`);
    if (typeof schema?.safeParse !== 'function') throw new InvalidArgumentError(`defineStream("${name}"): the schema of "${type}" must have a safeParse method (a zod schema, for example).`);
  }
  if (streams.has(name)) throw new DurablyError(`A stream named "${name}" is already defined. Stream names must be unique in a process.`);
  const startStep = step(`durably.stream:${name}:start`, async (input: I, streamRunId: string) => {
    const ctx = context() as StepContext;
    const scope = collector(name, streamRunId, `${ctx.idempotencyKey}`);
    if (body) await emitScope.run(scope, () => body(input, emitterFor(scope)));
    return scope.emits;
  });
  const queue = options.queue === undefined ? 'default' : checkQueue(options.queue, `defineStream("${name}")`);
  const signalsPerRun = options.signalsPerRun ?? SIGNALS_PER_RUN;
  if (!Number.isInteger(signalsPerRun) || signalsPerRun < 1) throw new InvalidArgumentError(`defineStream("${name}"): signalsPerRun must be a whole number >= 1, got ${JSON.stringify(options.signalsPerRun)}.`);
  const stream: Stream<I> = { kind: 'stream', name, queue, signalsPerRun, steps: new Map(), schemas, start: (input, id) => startStep(input, id) };
  streams.set(name, stream);
  return stream;
}

/**
 * Subscribes a handler to signal types of a stream. The handler runs as a durable step for every
 * matching signal (in the order of the stream's sequence) while the step is active or suspended.
 */
export function streamStep<S = undefined>(stream: Stream<any>, options: StreamStepOptions<S>, handler: StreamHandler<S>): { readonly name: string; readonly stream: string } {
  if (stream?.kind !== 'stream') throw new InvalidArgumentError('streamStep(): the first argument must be a stream made with defineStream().');
  const { name, signals, initialState, ...stepOptions } = options ?? ({} as StreamStepOptions<S>);
  if (typeof name !== 'string' || !NAME.test(name)) throw new InvalidArgumentError(`streamStep("${stream.name}"): name ${JSON.stringify(name)} is invalid: use 1-40 letters, digits, "_", "." and "-".`);
  if (stream.steps.has(name)) throw new DurablyError(`Stream "${stream.name}" already has a step named "${name}".`);
  if (!Array.isArray(signals) || signals.length === 0) throw new InvalidArgumentError(`streamStep("${stream.name}", "${name}"): "signals" must list at least one signal type.`);
  for (const type of signals) checkType(type, `streamStep("${stream.name}", "${name}")`);
  if (typeof handler !== 'function') throw new InvalidArgumentError(`streamStep("${stream.name}", "${name}"): the handler must be a function (signal, ctx) => reaction.`);
  const run = step(
    `durably.stream:${stream.name}:${name}`,
    async (signal: StreamSignal, state: unknown, streamRunId: string): Promise<HandlerResult> => {
      const ctx = context() as StepContext;
      const scope = collector(stream.name, streamRunId, `${ctx.idempotencyKey}`);
      const stepCtx: StreamStepContext<S> = {
        ...emitterFor(scope),
        state: state as S,
        stepName: name,
        resume: (next) => ({ action: 'resume', state: next }),
        suspend: (next) => ({ action: 'suspend', state: next }),
        terminate: (reason, next) => ({ action: 'terminate', reason, state: next }),
        complete: (result, next) => ({ action: 'complete', result, state: next }),
      };
      const reaction = await emitScope.run(scope, () => handler(signal, stepCtx));
      if (reaction !== undefined && (typeof reaction !== 'object' || !['resume', 'suspend', 'terminate', 'complete'].includes((reaction as StreamReaction).action))) {
        throw new InvalidArgumentError(`Stream step "${name}" of "${stream.name}" returned ${JSON.stringify(reaction)}: return ctx.resume(), ctx.suspend(), ctx.terminate() or ctx.complete(result), or nothing.`);
      }
      return { reaction: (reaction as StreamReaction | undefined) ?? { action: 'resume', state }, emits: scope.emits };
    },
    stepOptions,
  );
  stream.steps.set(name, { name, signals: new Set(signals), initialState, call: (signal, state, id) => run(signal, state, id) });
  return { name, stream: stream.name };
}

// ---------------------------------------------------------------------------------------------
// Reaching stream runs from clients and steps.

function clientHere(explicit: Client | undefined, what: string): Client {
  if (explicit) return explicit;
  const scope = currentScope();
  if (scope?.kind === 'step' && scope.context.client) return scope.context.client;
  if (scope?.kind === 'step') throw new DurablyError(`${what} in a step needs a worker's client; outside a worker pass { client }.`);
  return getDefaultClient();
}

/** The run that currently holds a stream run (the last of its continueAsNew chain), if it exists. */
async function currentRunOf(client: Client, name: string, streamRunId: string): Promise<{ runId: string; status: string; result?: string } | undefined> {
  await client.ensureReady();
  const page = await client.storage.listRuns({ workflow: STREAM_WORKFLOW, tags: [tagOf(name, streamRunId)], limit: 1 });
  let run = page.runs[0];
  for (let nextId = run && (await client.nextInChain(run)); nextId; nextId = await client.nextInChain(run)) {
    const next = await client.storage.getRun(nextId);
    if (!next) break;
    run = next;
  }
  return run;
}

/** Starts the stream run if it does not exist yet (idempotent); returns the id of its first run. */
async function ensureStreamRun(client: Client, stream: Stream<any>, streamRunId: string, input: unknown): Promise<string> {
  const args = serialize([stream.name, streamRunId, input, null], `the input of stream "${stream.name}"`);
  const { runId } = await client.startSerialized(STREAM_WORKFLOW, stream.queue, args, {
    idempotencyKey: `stream:${stream.name}:${streamRunId}`,
    tags: [tagOf(stream.name, streamRunId)],
  });
  return runId;
}

async function sendToStream(client: Client, name: string, streamRunId: string, message: InboxMessage): Promise<void> {
  const run = await currentRunOf(client, name, streamRunId);
  if (!run) throw new StreamRunNotFoundError(name, streamRunId);
  await client.sendSignal(run.runId, INBOX, message);
}

/**
 * Starts a stream run from a client (outside a workflow). Idempotent per `streamRunId`. Returns the
 * id of the run behind it.
 */
export async function startStream<I>(stream: Stream<I>, options: { streamRunId: string; input?: I; client?: Client }): Promise<string> {
  if (stream?.kind !== 'stream') throw new InvalidArgumentError('startStream(): the first argument must be a stream made with defineStream().');
  const id = checkStreamRunId(options?.streamRunId, 'startStream()');
  const client = clientHere(options.client, 'startStream()');
  await client.ensureReady();
  return ensureStreamRun(client, stream, id, options.input);
}

/** Emits made by each step attempt so far: ids stay the same when the attempt is repeated. */
const emitsPerAttempt = new WeakMap<object, number>();

/**
 * Emits a signal to a stream run. In a stream step handler or start body it is recorded with the
 * handler's result (so a retried handler emits once); in a workflow it runs as a durable step; in a
 * plain step or outside a worker it is sent at once (a retried step re-sends with the same id, and
 * the stream run drops the duplicate).
 */
export async function emit(stream: Stream<any>, type: string, payload?: unknown, options: EmitOptions = {}): Promise<void> {
  if (stream?.kind !== 'stream') throw new InvalidArgumentError('emit(): the first argument must be a stream made with defineStream().');
  checkType(type, 'emit()');
  const delayMs = delayOf(options, 'emit');
  const inHandler = emitScope.getStore();
  if (inHandler && inHandler.stream === stream.name && (options.streamRunId === undefined || options.streamRunId === inHandler.streamRunId)) {
    collect(inHandler, type, payload, delayMs);
    return;
  }
  const streamRunId = checkStreamRunId(options.streamRunId, 'emit()');
  const scope = currentScope();
  if (scope?.kind === 'workflow' && !scope.execution.transient) {
    const wctx = context() as WorkflowContext;
    const message: InboxMessage = { kind: 'emit', id: `${wctx.runId}:${wctx.uuid()}`, type, payload };
    if (delayMs > 0) message.deliverAt = wctx.now().getTime() + delayMs;
    await emitStep(stream.name, streamRunId, message);
    return;
  }
  const client = clientHere(options.client, 'emit()');
  let id = `client:${randomUUID()}`;
  if (scope?.kind === 'step') {
    const n = (emitsPerAttempt.get(scope.context) ?? 0) + 1;
    emitsPerAttempt.set(scope.context, n);
    id = `${scope.context.idempotencyKey}:emit:${n}`;
  }
  const message: InboxMessage = { kind: 'emit', id, type, payload };
  if (delayMs > 0) message.deliverAt = client.clock() + delayMs;
  await sendToStream(client, stream.name, streamRunId, message);
}

/** Emits a signal for delivery after `delay` (the stream run keeps it, durably, until then). */
export function scheduleSignal(stream: Stream<any>, type: string, payload: unknown, options: EmitOptions & { delay: Duration }): Promise<void> {
  if (options?.delay === undefined) throw new InvalidArgumentError('scheduleSignal(): { delay } is required (use emit() for now).');
  return emit(stream, type, payload, options);
}

const emitStep = step('durably.stream.emit', async (name: string, streamRunId: string, message: InboxMessage) => {
  const client = clientHere(undefined, 'emit()');
  await sendToStream(client, name, streamRunId, message);
});

/** Registers a watch (or reads the final outcome of a finished stream run). */
const watchStep = step(
  'durably.stream.watch',
  async (name: string, streamRunId: string, input: unknown, watch: Watcher): Promise<{ done?: StreamOutcome }> => {
    const client = clientHere(undefined, 'runStream()');
    const stream = getStream(name);
    if (!stream) throw new StreamNotDefinedError(name);
    await ensureStreamRun(client, stream, streamRunId, input);
    for (let attempt = 0; ; attempt++) {
      const run = await currentRunOf(client, name, streamRunId);
      if (!run) throw new StreamRunNotFoundError(name, streamRunId);
      if (run.status === 'completed') return { done: deserialize<StreamOutcome>(run.result!) };
      if (run.status === 'failed' || run.status === 'cancelled') throw new StreamFailedError(name, streamRunId, run.status);
      try {
        await client.sendSignal(run.runId, INBOX, { kind: 'watch', ...watch } satisfies InboxMessage);
        return {};
      } catch (err) {
        // Finished in between: read its outcome on the next pass.
        if (err instanceof RunAlreadyFinishedError && attempt < 5) continue;
        throw err;
      }
    }
  },
  { retries: 5 },
);

/** Tells a watching workflow the stream's outcome. A watcher that already finished is left alone. */
const notifyStep = step(
  'durably.stream.notify',
  async (watcher: string, watchId: string, outcome: StreamOutcome | { failed: string }) => {
    const client = clientHere(undefined, 'stream notify');
    try {
      await client.sendSignal(watcher, `durably.stream.outcome:${watchId}`, outcome);
    } catch (err) {
      if (err instanceof RunAlreadyFinishedError || err instanceof RunNotFoundError) return;
      throw err;
    }
  },
  { retries: 10 },
);

/**
 * Inside a workflow: starts the stream run `streamRunId` if needed (with `input` for its start body),
 * then suspends this workflow until the stream's aggregate is completed or suspended, and returns
 * every stream step's status, state and result. Calling it again for a suspended stream waits for the
 * next change (a signal that reached a step after the outcome this workflow last saw).
 */
export async function runStream<I>(stream: Stream<I>, options: { streamRunId: string; input?: I }): Promise<StreamOutcome> {
  if (stream?.kind !== 'stream') throw new InvalidArgumentError('runStream(): the first argument must be a stream made with defineStream().');
  const scope = currentScope();
  if (scope?.kind !== 'workflow') throw new NotInWorkflowError('runStream() was called outside a workflow. Call it in a workflow(...) body; use startStream() and emit() elsewhere.');
  if (scope.execution.transient) {
    throw new DurableOnlyError('runStream() needs durable mode: it suspends the run until the stream settles, which a transient run (durable: false) cannot do. Start the run without durable: false.');
  }
  const streamRunId = checkStreamRunId(options?.streamRunId, 'runStream()');
  const wctx = context() as WorkflowContext;
  const key = `${stream.name}/${streamRunId}`;
  const seen = lastSeen.get(scope.execution) ?? new Map<string, number>();
  lastSeen.set(scope.execution, seen);
  const watch: Watcher = { watcher: wctx.runId, watchId: wctx.uuid(), afterVersion: seen.get(key) ?? 0 };
  const { done } = await watchStep(stream.name, streamRunId, options.input, watch);
  const outcome = done ?? (await waitForSignal<StreamOutcome | { failed: string }>(`durably.stream.outcome:${watch.watchId}`));
  if ('failed' in outcome) throw new StreamFailedError(stream.name, streamRunId, 'failed', outcome.failed);
  seen.set(key, outcome.version);
  return outcome;
}

/** A stream run as it is now: like StreamOutcome, with `running` possible. */
export type StreamSnapshot = Omit<StreamOutcome, 'status'> & { readonly status: StreamStatus };

const stateQuery = defineQuery<StreamSnapshot>('durably.stream.state');

/**
 * Reads a stream run's current status and steps from its log (replayed in this process; nothing is
 * written and no handler runs). Returns undefined when the stream run does not exist.
 */
export async function inspectStream(stream: Stream<any>, options: { streamRunId: string; client?: Client }): Promise<StreamSnapshot | undefined> {
  if (stream?.kind !== 'stream') throw new InvalidArgumentError('inspectStream(): the first argument must be a stream made with defineStream().');
  const id = checkStreamRunId(options?.streamRunId, 'inspectStream()');
  const client = clientHere(options.client, 'inspectStream()');
  const run = await currentRunOf(client, stream.name, id);
  if (!run) return undefined;
  if (run.status === 'completed') return deserialize<StreamOutcome>(run.result!);
  if (run.status === 'failed' || run.status === 'cancelled') throw new StreamFailedError(stream.name, id, run.status);
  return client.query(streamWorkflow, run.runId, stateQuery);
}

/** Per execution: the last sequence number each stream run reported to it (rebuilt on replay). */
const lastSeen = new WeakMap<object, Map<string, number>>();

// ---------------------------------------------------------------------------------------------
// The stream run itself.

function aggregate(state: StreamRunState): StreamStatus {
  const statuses = Object.values(state.steps).map((s) => s.status);
  if (statuses.every((s) => s === 'completed' || s === 'terminated' || s === 'failed')) return 'completed';
  // Quiescent (no signal left to handle now) with a step waiting for outside input. Active steps with
  // nothing to handle are idle; signals scheduled for later do not keep the stream running.
  if (state.queue.length === 0 && statuses.includes('suspended')) return 'suspended';
  return 'running';
}

function outcomeOf(name: string, streamRunId: string, state: StreamRunState, status: 'completed' | 'suspended'): StreamOutcome {
  return { stream: name, streamRunId, status, seq: state.seq, version: state.version, steps: state.steps, rejected: state.rejected };
}

function describeIssues(error: unknown): string {
  const issues = (error as { issues?: Array<{ path?: unknown[]; message?: string }> })?.issues;
  if (Array.isArray(issues)) return issues.map((i) => `${(i.path ?? []).join('.') || '(root)'}: ${i.message}`).join('; ');
  return error instanceof Error ? error.message : String(error);
}

const TIMER = Symbol('timer');
/** Stands for "no signal has arrived" when the stream looks without waiting. */
const NOTHING = Symbol('nothing');

export const streamWorkflow = workflow(STREAM_WORKFLOW, async (name: string, streamRunId: string, input: unknown, carried: StreamRunState | null): Promise<StreamOutcome> => {
  const stream = getStream(name);
  if (!stream) throw new StreamNotDefinedError(name);
  const wctx = context() as WorkflowContext;
  const st: StreamRunState = carried ?? {
    seq: 0,
    version: 0,
    steps: Object.fromEntries([...stream.steps.values()].map((d) => [d.name, { status: 'active', state: d.initialState, handled: 0 } satisfies StreamStepState])),
    queue: [],
    delayed: [],
    watchers: [],
    rejected: [],
    seen: [],
  };
  // Steps added to the stream since this run began start active.
  for (const d of stream.steps.values()) st.steps[d.name] ??= { status: 'active', state: d.initialState, handled: 0 };
  let handledHere = 0;
  stateQuery.handle(() => ({ ...outcomeOf(name, streamRunId, st, 'suspended'), status: aggregate(st) }));

  const accept = (m: Emitted) => {
    if (st.seen.includes(m.id)) return; // a retried emit
    st.seen.push(m.id);
    if (st.seen.length > DEDUP_WINDOW) st.seen.splice(0, st.seen.length - DEDUP_WINDOW);
    if (m.deliverAt !== undefined) st.delayed.push(m);
    else st.queue.push(m);
  };

  const handle = async (m: Emitted) => {
    st.seq += 1;
    handledHere += 1;
    const seq = st.seq;
    const schema = stream.schemas[m.type];
    let payload = m.payload;
    if (schema) {
      const parsed = schema.safeParse(payload);
      if (!parsed.success) {
        const reason = describeIssues(parsed.error);
        st.rejected.push({ seq, type: m.type, id: m.id, reason });
        if (st.rejected.length > 100) st.rejected.shift();
        wctx.logger.warn('stream signal rejected: its payload fails the schema', { stream: name, streamRunId, seq, type: m.type, reason });
        return;
      }
      payload = parsed.data;
    }
    const signal: StreamSignal = { type: m.type, payload, seq, id: m.id };
    const targets = [...stream.steps.values()].filter((d) => d.signals.has(m.type) && ['active', 'suspended'].includes(st.steps[d.name].status));
    if (targets.length > 0) st.version += 1;
    const results = await Promise.all(
      targets.map((d) =>
        d.call(signal, st.steps[d.name].state, streamRunId).then(
          (r) => ({ ok: true as const, r }),
          (error: unknown) => ({ ok: false as const, error }),
        ),
      ),
    );
    targets.forEach((d, i) => {
      const s = st.steps[d.name];
      const out = results[i];
      s.handled += 1;
      if (!out.ok) {
        s.status = 'failed';
        s.reason = out.error instanceof Error ? `${out.error.name}: ${out.error.message}` : String(out.error);
        return;
      }
      const { reaction, emits } = out.r;
      if ('state' in reaction && reaction.state !== undefined) s.state = reaction.state;
      if (reaction.action === 'resume') s.status = 'active';
      else if (reaction.action === 'suspend') s.status = 'suspended';
      else if (reaction.action === 'terminate') {
        s.status = 'terminated';
        s.reason = reaction.reason;
      } else {
        s.status = 'completed';
        s.result = reaction.result;
      }
      for (const e of emits) accept(e);
    });
  };

  const notify = async (status: 'completed' | 'suspended') => {
    const due = st.watchers.filter((w) => status === 'completed' || st.version > w.afterVersion);
    if (due.length === 0) return;
    st.watchers = st.watchers.filter((w) => !due.includes(w));
    const outcome = outcomeOf(name, streamRunId, st, status);
    await Promise.all(due.map((w) => notifyStep(w.watcher, w.watchId, outcome)));
  };

  /**
   * A watch sent while the stream run was completing (its final append then lost the race and the run
   * replayed with the watch in its log) sits in the signal buffer, or in the pending wait, unread: the
   * watcher would wait forever. Take what has arrived, without waiting, and tell those watchers too.
   */
  const notifyLateWatchers = async (pending: Promise<InboxMessage> | undefined) => {
    const late: InboxMessage[] = [];
    const now = async (p: Promise<InboxMessage>) => Promise.race([p, Promise.resolve(NOTHING)]);
    if (pending) {
      const got = await now(pending);
      if (got === NOTHING) return; // the pending wait has taken nothing, so nothing is buffered
      late.push(got);
    }
    for (;;) {
      const got = await now(waitForSignal<InboxMessage>(INBOX));
      if (got === NOTHING) break;
      late.push(got);
    }
    for (const m of late) if (m.kind === 'watch') st.watchers.push({ watcher: m.watcher, watchId: m.watchId, afterVersion: m.afterVersion });
    await notify('completed');
  };

  try {
    if (!carried) for (const e of await stream.start(input, streamRunId)) accept(e);
    let next: Promise<InboxMessage> | undefined;
    let timer: { until: number; fired: Promise<typeof TIMER> } | undefined;
    for (;;) {
      while (st.queue.length > 0) await handle(st.queue.shift()!);
      const status = aggregate(st);
      if (status !== 'running') await notify(status);
      if (status === 'completed') {
        await notifyLateWatchers(next);
        return outcomeOf(name, streamRunId, st, 'completed');
      }
      if (!next && handledHere >= stream.signalsPerRun) return continueAsNew(name, streamRunId, input, st);
      next ??= waitForSignal<InboxMessage>(INBOX);
      const due = st.delayed.reduce<number | undefined>((min, e) => (min === undefined || e.deliverAt! < min ? e.deliverAt! : min), undefined);
      if (due !== undefined && timer?.until !== due) timer = { until: due, fired: sleep(new Date(due)).then(() => TIMER) };
      const got = due === undefined ? await next : await Promise.race([next, timer!.fired]);
      if (got === TIMER) {
        timer = undefined;
        const ready = st.delayed.filter((e) => e.deliverAt! <= due!).sort((a, b) => a.deliverAt! - b.deliverAt!);
        st.delayed = st.delayed.filter((e) => !ready.includes(e));
        for (const e of ready) st.queue.push({ id: e.id, type: e.type, payload: e.payload });
        continue;
      }
      next = undefined;
      const message = got as InboxMessage;
      if (message.kind === 'watch') {
        st.watchers.push({ watcher: message.watcher, watchId: message.watchId, afterVersion: message.afterVersion });
        const current = aggregate(st);
        if (current === 'suspended') await notify(current);
      } else {
        accept({ id: message.id, type: message.type, payload: message.payload, deliverAt: message.deliverAt });
      }
    }
  } catch (err) {
    // A failed or cancelled stream run tells its watchers, so none waits forever.
    if (err instanceof Error && st.watchers.length > 0) {
      const watchers = st.watchers;
      st.watchers = [];
      await shield(() => Promise.all(watchers.map((w) => notifyStep(w.watcher, w.watchId, { failed: `${err.name}: ${err.message}` }))));
    }
    throw err;
  }
});
