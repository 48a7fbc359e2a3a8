import type { RunFilter, RunPage, ScheduleRecord } from '@durably/contracts';
import type { DurablyConfig } from '../config/types.js';
import type { Workflow } from '../engine/definitions.js';
import { Client, type RunHandle, type StartOptions, type UpdateCallOptions, type UpdateWithStartOptions } from '../runtime/client/client.js';
import type { UpdateDefinition } from '../engine/update-definition.js';
import { createClient } from '../runtime/client/create.js';
import type { ScheduleOptions } from '../runtime/schedules.js';
import { Worker, type WorkerOptions } from '../runtime/worker/worker.js';

/**
 * The default client and the top-level verbs that use it: start(), getRun(), cancel(), schedule(),
 * createWorker() and the rest, for code that does not pass a client around.
 */

/** Identity function that types a config file's default export. */
export function defineConfig(config: DurablyConfig): DurablyConfig {
  return config;
}

let defaultClient: Client | undefined;

/** Sets the default client used by start(), getRun(), listRuns(), cancel() and createWorker() without a client. */
export function configure(config: DurablyConfig | Client): Client {
  defaultClient = config instanceof Client ? config : createClient({ storage: config.storage, broker: config.broker, connectTimeout: config.connectTimeout, codec: config.codec });
  return defaultClient;
}

/** The default client: the one configure() set, or one from env, config file and defaults. */
export function getDefaultClient(): Client {
  defaultClient ??= createClient();
  return defaultClient;
}

/** Starts a run on the default client. */
export function start<A extends unknown[], R>(wf: Workflow<A, R>, ...args: A): Promise<RunHandle<Awaited<R>>> {
  return getDefaultClient().start(wf, ...args);
}

/** Starts a run with options (idempotencyKey, delay, startAt, queue, runId) on the default client. */
export function startWith<A extends unknown[], R>(wf: Workflow<A, R>, args: A, options: StartOptions): Promise<RunHandle<Awaited<R>>> {
  return getDefaultClient().startWith(wf, args, options);
}

/** A handle to a run of the default client (nothing is read until you call one of its methods). */
export function getRun<R = unknown>(runId: string): RunHandle<R> {
  return getDefaultClient().getRun<R>(runId);
}

/**
 * The default client's run of `wf` started with `idempotencyKey`, or undefined (see `Client.getRunByKey`).
 *
 * @example
 * ```ts
 * import { getRunByKey } from '@durably/core';
 *
 * const run = await getRunByKey('checkout', 'order-4711');
 * ```
 */
export function getRunByKey<R = unknown>(wf: Workflow<any[], R> | string, idempotencyKey: string): Promise<RunHandle<Awaited<R>> | undefined> {
  return getDefaultClient().getRunByKey(wf, idempotencyKey);
}

/**
 * One page of runs of the default client, newest first (see `RunFilter`: by workflow, status, tags,
 * parent, creation time; 100 to a page by default, at most 1,000).
 *
 * @example
 * ```ts
 * import { listRuns } from '@durably/core';
 *
 * const { runs, nextCursor } = await listRuns({ status: 'failed', limit: 20 });
 * ```
 */
export function listRuns(filter: RunFilter = {}): Promise<RunPage> {
  return getDefaultClient().listRuns(filter);
}

/**
 * Asks the default client to cancel a run: records the request, and the run ends as `cancelled` once a
 * worker processes it (a run that continued as new is followed to its latest run). `reason` is kept in
 * the log and in the run's CancelledError. Throws `RunNotFoundError` for an unknown run and
 * `RunAlreadyFinishedError` for one that has already finished.
 */
export function cancel(runId: string, reason?: string): Promise<void> {
  return getDefaultClient().cancel(runId, reason);
}

/** Creates or replaces a schedule on the default client: cron (with time zone) or a fixed interval. */
export function schedule<A extends unknown[]>(scheduleId: string, wf: Workflow<A, unknown>, options: ScheduleOptions<A>): Promise<ScheduleRecord> {
  return getDefaultClient().schedules.create(scheduleId, wf, options);
}

/** Resumes a hook by its token, on the default client. */
export function resumeHook(token: string, payload?: unknown): Promise<{ runId: string }> {
  return getDefaultClient().resumeHook(token, payload);
}

/** Sends a signal to a run, on the default client. */
export function sendSignal(runId: string, name: string, payload?: unknown): Promise<void> {
  return getDefaultClient().sendSignal(runId, name, payload);
}

/** Sends an update to a run and resolves with its handler's answer, on the default client (see `Client.update`). */
export function sendUpdate<T, R>(runId: string, update: UpdateDefinition<T, R> | string, payload: T, options?: UpdateCallOptions): Promise<R> {
  return getDefaultClient().update(runId, update, payload, options);
}

/** Starts the run with the key unless one has it, then sends it the update, on the default client (see `Client.updateWithStart`). */
export function updateWithStart<A extends unknown[], WR, T, R>(wf: Workflow<A, WR>, args: A, options: UpdateWithStartOptions<T, R>): Promise<{ run: RunHandle<Awaited<WR>>; result: R }> {
  return getDefaultClient().updateWithStart(wf, args, options);
}

/** Creates a worker; without `client` it uses the default client. Call `start()` on it. */
export function createWorker(options: WorkerOptions): Worker {
  return new Worker(options.client ?? getDefaultClient(), options);
}
