/**
 * Starting a run: the checks of a start's workflow, arguments and options, the run's creation with
 * its first event, and the publication of its first task. An idempotency key or a run id that a run
 * already has returns that run instead of creating one.
 */
import { randomUUID } from 'node:crypto';
import {
  type Broker,
  checkIdempotencyKey,
  checkPayload,
  checkQueue,
  checkRunId,
  checkTags,
  type EventDataMap,
  InvalidArgumentError,
  type Logger,
  makeEvent,
  parseDuration,
  RunIdInUseError,
  type RunRecord,
  serialize,
} from '@durably/contracts';
import { isWorkflow, validateArgs, type Workflow } from '../../engine/definitions.js';
import type { CombinedInstrumentation } from '../../observe/instrumentation.js';
import { publishTask } from '../tasks/publish.js';
import { brokerQueue, runTask } from '../tasks/messages.js';
import type { RunStarter, SerializedStartOptions } from '../host.js';
import { RunHandle } from './handle.js';
import type { StartOptions } from './options.js';

/** What a start needs of its client (Client implements it). */
export interface StartHost extends RunStarter {
  readonly broker: Broker;
  readonly logger: Logger;
  readonly instrumentation: CombinedInstrumentation;
}

/** `client.startWith(wf, args, options)`: checks the start, then creates the run (or finds the one it names). */
export async function startRun<A extends unknown[], R>(host: StartHost, wf: Workflow<A, R>, args: A, options: StartOptions): Promise<RunHandle<Awaited<R>>> {
  if (!isWorkflow(wf)) throw new InvalidArgumentError('start(): the first argument must be a workflow made with workflow(name, fn).');
  if (!Array.isArray(args)) throw new InvalidArgumentError('start(): args must be an array.');
  const def = wf.definition;
  const queue = options.queue === undefined ? def.queue : checkQueue(options.queue, 'start()');
  const runId = options.runId ?? randomUUID();
  checkRunId(runId, 'start()');
  if (options.idempotencyKey !== undefined) checkIdempotencyKey(options.idempotencyKey, 'start()');
  let startAt: number | undefined;
  if (options.startAt !== undefined) {
    startAt = options.startAt.getTime();
    if (Number.isNaN(startAt)) throw new InvalidArgumentError('start(): startAt is an invalid Date.');
  }
  const delayMs = options.delay === undefined ? undefined : parseDuration(options.delay, 'start({ delay })');
  const validArgs = validateArgs(def.schema, args, `workflow "${def.name}"`) as A;
  if (!def.durable || options.durable === false) {
    // Loaded on use: transient runs touch neither storage nor broker.
    const { startTransient } = await import('../transient.js');
    return startTransient(host, wf, validArgs, runId) as Promise<RunHandle<Awaited<R>>>;
  }
  await host.ensureReady();
  // Read once ready: the clock follows the storage's from then on.
  const now = host.clock();
  if (delayMs !== undefined) startAt = Math.max(startAt ?? 0, now + delayMs);
  const serializedArgs = checkPayload(serialize(validArgs, `the arguments of workflow "${def.name}"`), `The arguments of workflow "${def.name}"`, host.limits);
  const tags = [...new Set([...def.tags, ...checkTags(options.tags, 'start()')])];
  const { run, created } = await host.startSerialized(def.name, queue, serializedArgs, { runId, idempotencyKey: options.idempotencyKey, startAt, now, tags });
  if (created) return new RunHandle(host, run.runId, { created: true });
  const byKey = options.idempotencyKey !== undefined && run.workflow === def.name && run.idempotencyKey === options.idempotencyKey;
  const argsDiffer = run.args !== serializedArgs;
  if (!byKey) {
    // Found by its runId: the same start again (retried after a timeout, say) gets the run; any
    // other start must not be mistaken for it.
    if (run.workflow !== def.name || argsDiffer) throw new RunIdInUseError(run.runId, run.workflow, def.name);
    return new RunHandle(host, run.runId, { created: false });
  }
  if (argsDiffer) {
    host.logger.warn('start(): the idempotency key was already used by a run with other arguments; that run is returned and these arguments are ignored', {
      workflow: def.name,
      idempotencyKey: options.idempotencyKey,
      runId: run.runId,
    });
  }
  return new RunHandle(host, run.runId, { created: false, argsDiffer });
}

/** What a run's creation needs of its client. */
export type CreateRunHost = Pick<StartHost, 'storage' | 'broker' | 'clock' | 'limits' | 'instrumentation'>;

/** Creates a run from already serialized arguments and publishes its start (`client.startSerialized`: starts, schedules, streams). */
export async function createRun(host: CreateRunHost, workflowName: string, queue: string, serializedArgs: string, options: SerializedStartOptions): Promise<{ runId: string; created: boolean; run: RunRecord }> {
  const now = options.now ?? host.clock();
  const runId = options.runId ?? randomUUID();
  const { idempotencyKey, startAt } = options;
  const data: EventDataMap['run_created'] = { workflow: workflowName, args: serializedArgs, queue, nesting: { depth: 0, maxDepth: host.limits.maxChildDepth } };
  if (idempotencyKey !== undefined) data.idempotencyKey = idempotencyKey;
  if (startAt !== undefined) data.startAt = startAt;
  if (options.scheduledAt !== undefined) data.scheduledAt = options.scheduledAt;
  if (options.scheduleId !== undefined) data.scheduleId = options.scheduleId;
  // The caller's trace context travels with the run, so every worker that runs it continues the trace.
  const scope = host.instrumentation.runStart({ runId, workflow: workflowName, queue });
  if (scope.trace) Object.assign(data, scope.trace);
  const first = makeEvent(runId, 1, 'run_created', data, undefined, now);
  const tags = options.tags?.length ? options.tags : undefined;
  try {
    const { run, created } = await scope.wrap(() => host.storage.createRun({ runId, workflow: workflowName, queue, args: serializedArgs, idempotencyKey, startAt, createdAt: now, firstEvent: first, tags }));
    if (created) {
      // If this process dies right here the run stays pending; the workers' recovery sweep publishes it.
      await publishTask(host.broker, brokerQueue(queue), runTask(runId, 'start'), Math.max(0, (startAt ?? now) - now), host.clock);
    }
    scope.end();
    return { runId: run.runId, created, run };
  } catch (err) {
    scope.end(err);
    throw err;
  }
}
