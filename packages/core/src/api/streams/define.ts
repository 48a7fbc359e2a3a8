import { AsyncLocalStorage } from 'node:async_hooks';
import { currentScope } from '../../engine/scope.js';
import { declareFatal } from '../../engine/retry.js';
import { context, type StepContext } from '../context.js';
import { step } from '../definitions.js';
import {
  parseDuration,
  type Duration,
  DurablyError,
  InvalidArgumentError,
  checkQueue,
} from '@durably/contracts';
import {
  SIGNALS_PER_RUN,
  type Emitted,
  type HandlerResult,
  type Stream,
  type StreamEmitter,
  type StreamHandler,
  type StreamOptions,
  type StreamReaction,
  type StreamSignal,
  type StreamStepContext,
  type StreamStepOptions,
} from './types.js';

/** Defining streams and their steps; what a start body or a handler emits is collected here. */

// A stream that is not defined, a stream run that is gone, a failed stream: retrying a step changes none.
declareFatal('STREAM_NOT_DEFINED', 'STREAM_RUN_NOT_FOUND', 'STREAM_FAILED');

const streams = new Map<string, Stream<any>>();

/** The stream defined with this name in this process, or undefined when there is none. */
export function getStream(name: string): Stream | undefined {
  return streams.get(name);
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$/;
const RUN_ID = /^[A-Za-z0-9_.:=-]{1,52}$/;
const TYPE = /^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,99}$/;

export function checkType(type: unknown, owner: string): string {
  if (typeof type !== 'string' || !TYPE.test(type)) {
    throw new InvalidArgumentError(`${owner}: the signal type ${JSON.stringify(type)} is invalid: use 1-100 letters, digits, "_", ".", ":", "/" and "-", starting with a letter or digit.`);
  }
  return type;
}

export function checkStreamRunId(id: unknown, owner: string): string {
  if (typeof id !== 'string' || !RUN_ID.test(id)) {
    throw new InvalidArgumentError(`${owner}: streamRunId ${JSON.stringify(id)} is invalid: use 1-52 letters, digits, "_", ".", ":", "=" and "-".`);
  }
  return id;
}

export function delayOf(options: { delay?: Duration } | undefined, owner: string): number {
  if (options?.delay === undefined) return 0;
  return parseDuration(options.delay, `${owner}({ delay })`);
}

/** Tag of the first run of a stream run (continuations are found through the chain). */
export function tagOf(name: string, streamRunId: string): string {
  return `stream:${name}/${streamRunId}`;
}

/** The worker's clock inside a step (virtual under createTestEnv), else the system clock. */
export function clockHere(): number {
  const scope = currentScope();
  return scope?.kind === 'step' && scope.context.client ? scope.context.client.clock() : Date.now();
}

/** Collects what a start body or handler emits; ids are stable across attempts of the same step. */
export const emitScope = new AsyncLocalStorage<{ streamRunId: string; stream: string; emits: Emitted[]; idBase: string }>();

export function collector(stream: string, streamRunId: string, idBase: string): { streamRunId: string; stream: string; emits: Emitted[]; idBase: string } {
  return { stream, streamRunId, emits: [], idBase };
}

export function collect(scope: { streamRunId: string; emits: Emitted[]; idBase: string }, type: string, payload: unknown, delayMs: number): void {
  const emitted: Emitted = { id: `${scope.idBase}:${scope.emits.length + 1}`, type, payload };
  if (delayMs > 0) emitted.deliverAt = clockHere() + delayMs;
  scope.emits.push(emitted);
}

export function emitterFor(scope: { streamRunId: string; emits: Emitted[]; idBase: string }): StreamEmitter {
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

