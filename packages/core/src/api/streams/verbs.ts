import { randomUUID } from 'node:crypto';
import { currentScope } from '../../engine/scope.js';
import { context, type WorkflowContext } from '../context.js';
import { step } from '../definitions.js';
import { waitForSignal } from '../signals.js';
import {
  type Duration,
  DurableOnlyError,
  InvalidArgumentError,
  NotInWorkflowError,
  RunAlreadyFinishedError,
  StreamFailedError,
  StreamNotDefinedError,
  StreamRunNotFoundError,
  deserialize,
} from '@durably/contracts';
import type { Client } from '../../runtime/client/client.js';
import { INBOX, type EmitOptions, type InboxMessage, type Stream, type StreamOutcome, type StreamSnapshot, type Watcher } from './types.js';
import { checkStreamRunId, checkType, collect, delayOf, emitScope, getStream } from './define.js';
import { clientHere, currentRunOf, ensureStreamRun, sendToStream } from './reach.js';
import { stateQuery, streamWorkflow } from './run.js';

/** What clients, steps and workflows call: start a stream run, emit to it, run it and wait, inspect it. */

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

