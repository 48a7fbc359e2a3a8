/**
 * The client: starts runs and acts on them (cancel, signal, update, resume a hook, query), on one
 * storage and broker. What each act does lives beside it (start.ts, updates.ts, resume-hook.ts,
 * query.ts, run-chain.ts, connect.ts, clock-sync.ts); this class holds the client's state and
 * readiness, and the appends from outside a run.
 */
import {
  type Broker,
  parseDuration,
  type Duration,
  InvalidArgumentError,
  RunAlreadyFinishedError,
  RunNotFoundError,
  makeEvent,
  type DurablyEvent,
  type EventDataMap,
  type EventType,
  serialize,
  FINISHED_STATUSES,
  type RunFilter,
  type RunPage,
  type RunPatch,
  type RunRecord,
  type RunStatus,
  type Storage,
  type PayloadCodec,
  type Logger,
  DEFAULT_LIMITS,
  checkPayload,
  type Limits,
  checkIdempotencyKey,
  checkAttributeFilter,
  checkSignalName,
  checkRunFilter,
  EventLimitExceededError,
  UpdateRejectedError,
} from '@durably/contracts';
import { isWorkflow, type QueryDefinition, type Workflow } from '../../engine/definitions.js';
import { publishTask } from '../tasks/publish.js';
import { brokerQueue, runTask } from '../tasks/messages.js';
import { RunHandle } from './handle.js';
import { resumeHook } from './resume-hook.js';
import { fencedAppend, wakePatch } from '../../engine/fenced-append.js';
import type { RunStarter, SerializedStartOptions } from '../host.js';
import { connectWithRetry } from './connect.js';
import { Schedules } from '../schedules.js';
import { answerQuery } from './query.js';
import { checkUpdateWithStart, deliverUpdate, prepareUpdate, type UpdateCallOptions } from './updates.js';
import type { UpdateDefinition } from '../../engine/update-definition.js';
import { createLogger } from '../../logger.js';
import type { WorkerConfig } from '../../config/types.js';
import { combineInstrumentation, type CombinedInstrumentation } from '../../observe/instrumentation.js';
import { otelInstrumentation } from '../../observe/otel.js';
import { ClockSync } from './clock-sync.js';
import { encryptStorage } from '../../codec/encrypt-storage.js';
import type { ClientOptions, StartOptions, UpdateWithStartOptions } from './options.js';
import { createRun, startRun } from './start.js';
import { nextInChain, runChain } from './run-chain.js';

export { RunHandle, type StartOutcome } from './handle.js';
export type { UpdateCallOptions } from './updates.js';
export type { ClientOptions, StartOptions, UpdateWithStartOptions } from './options.js';

// The engine's step context knows no client; the runtime adds the one its worker runs steps with.
declare module '../../engine/scope.js' {
  interface StepContext {
    /** @internal The worker's client (streams use it to reach other runs); absent outside a worker. */
    readonly client?: Client;
  }
}

/** Starts and observes runs on one storage and broker. */
export class Client implements RunStarter {
  readonly storage: Storage;
  readonly broker: Broker;
  readonly clock: () => number;
  /**
   * The synchronisation of `clock` with the storage's clock, when it runs (no `clock` option, not
   * disabled): `clockSync.last` is the last measured offset and its bound.
   */
  readonly clockSync?: ClockSync;
  readonly limits: Limits;
  /** Create, pause, resume, trigger, delete and list schedules. */
  readonly schedules: Schedules;
  /** Defaults for workers created on this client (from the config file). */
  workerDefaults?: WorkerConfig;
  private readonly deferred?: ClientOptions['deferred'];
  /** @internal */
  readonly instrumentation: CombinedInstrumentation;
  readonly logger: Logger;
  private ready?: Promise<void>;
  private readonly connectTimeoutMs: number;
  /** The URLs of storage and broker (passwords hidden), for log lines; empty for adapter instances passed in. */
  addresses: { storage?: string; broker?: string };
  /** The payload codec the client encrypts with, if any (`storage` is then wrapped with it). */
  codec?: PayloadCodec;

  constructor(options: ClientOptions) {
    this.codec = options.codec;
    this.storage = options.codec ? encryptStorage(options.storage, options.codec) : options.storage;
    this.broker = options.broker;
    this.logger = options.logger ?? createLogger();
    if (options.clock === undefined && options.clockSync !== false) this.clockSync = new ClockSync(this.logger, options.clockSync);
    this.clock = options.clock ?? this.clockSync?.now ?? Date.now;
    this.connectTimeoutMs = parseDuration(options.connectTimeout ?? '60s', 'connectTimeout');
    this.addresses = options.addresses ?? {};
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.workerDefaults = options.worker;
    this.deferred = options.deferred;
    this.instrumentation = combineInstrumentation([otelInstrumentation(), options.instrumentation]);
    this.schedules = new Schedules(this);
  }

  /**
   * Answers a query by replaying the run's log in this process (no step runs, nothing is written):
   * the workflow's code must be the one that wrote the log. `args` go to the handler, after the
   * query's schema (if any) has checked them and a serialization round trip has copied them, as if
   * they had come from another process.
   */
  async query<T, A extends unknown[]>(wf: Workflow<any[], any>, runId: string, query: QueryDefinition<T, A>, ...args: A): Promise<T> {
    await this.ensureReady();
    return answerQuery({ storage: this.storage, clock: this.clock }, wf, runId, query, args);
  }

  /** The runs linked by continueAsNew that `runId` belongs to, oldest first. */
  async getRunChain(runId: string): Promise<RunRecord[]> {
    await this.ensureReady();
    return runChain(this.storage, runId);
  }

  /** @internal The run that continues `run` (continueAsNew), read from its final event; undefined if it did not continue. */
  nextInChain(run: RunRecord): Promise<string | undefined> {
    return nextInChain(this.storage, run);
  }

  /** Retention: deletes finished runs that finished more than `olderThan` ago. Returns how many. */
  async deleteFinishedRuns(olderThan: Duration): Promise<number> {
    await this.ensureReady();
    const before = this.clock() - parseDuration(olderThan, 'deleteFinishedRuns(olderThan)');
    let total = 0;
    for (;;) {
      const n = await this.storage.deleteFinishedRuns(before, 500);
      total += n;
      if (n < 500) return total;
    }
  }

  /**
   * Reaches storage and broker and runs their idempotent schema set-up, once per client. A backend
   * that is down (a StorageError or BrokerError that is not about credentials, permissions or a
   * missing database) is tried again with exponential backoff for up to `connectTimeout`, each wait
   * logged with the address tried; so a worker restarted during an outage waits for it instead of
   * exiting. A failure is not kept: the next call tries again.
   */
  ensureReady(): Promise<void> {
    this.ready ??= (async () => {
      if (this.deferred) {
        const settings = await this.deferred();
        Object.assign(this.limits, settings.limits);
        this.workerDefaults = settings.worker;
        this.addresses = settings.addresses ?? {};
        this.codec ??= settings.codec;
      }
      await connectWithRetry(this.storage, this.broker, { timeoutMs: this.connectTimeoutMs, logger: this.logger, addresses: this.addresses });
      // From here on the engine's time is the storage's (when the storage has a clock of its own).
      const storage = this.storage;
      await this.clockSync?.start(storage.serverTime ? () => storage.serverTime!() : undefined);
    })().catch((err: unknown) => {
      this.ready = undefined;
      throw err;
    });
    return this.ready;
  }

  /** Starts a run of `wf` with `args` and returns its handle at once. */
  async start<A extends unknown[], R>(wf: Workflow<A, R>, ...args: A): Promise<RunHandle<Awaited<R>>> {
    return this.startWith(wf, args, {});
  }

  /** `start` with options: idempotency key, delay or start time, queue, run id. */
  async startWith<A extends unknown[], R>(wf: Workflow<A, R>, args: A, options: StartOptions): Promise<RunHandle<Awaited<R>>> {
    return startRun(this, wf, args, options);
  }

  /** @internal Creates a run from already serialized arguments and publishes its start (schedules use it). */
  startSerialized(workflowName: string, queue: string, serializedArgs: string, options: SerializedStartOptions): Promise<{ runId: string; created: boolean; run: RunRecord }> {
    return createRun(this, workflowName, queue, serializedArgs, options);
  }

  getRun<R = unknown>(runId: string): RunHandle<R> {
    return new RunHandle<R>(this, runId);
  }

  /**
   * The run of `wf` started with `idempotencyKey` (keys are scoped by workflow), or undefined when
   * it has none: never started with that key, or deleted by retention. Read from the storage's key
   * index; `wf` may be the workflow or its name.
   */
  async getRunByKey<R = unknown>(wf: Workflow<any[], R> | string, idempotencyKey: string): Promise<RunHandle<Awaited<R>> | undefined> {
    const workflowName = typeof wf === 'string' ? wf : isWorkflow(wf) ? wf.definition.name : undefined;
    if (workflowName === undefined) throw new InvalidArgumentError('getRunByKey(): the first argument must be a workflow made with workflow(name, fn), or its name.');
    checkIdempotencyKey(idempotencyKey, 'getRunByKey()');
    await this.ensureReady();
    const run = await this.storage.getRunByIdempotencyKey(workflowName, idempotencyKey);
    return run ? new RunHandle<Awaited<R>>(this, run.runId) : undefined;
  }

  /**
   * Runs matching `filter`, newest first, a page at a time (pass `nextCursor` back as `cursor`).
   * A status that is not one, or a time that is not a number, throws InvalidArgumentError.
   */
  async listRuns(filter: RunFilter = {}): Promise<RunPage> {
    checkRunFilter(filter, 'listRuns()');
    // A malformed attribute filter (a Date, a nested object) is refused here, not matched as nothing.
    if (filter.attributes !== undefined) filter = { ...filter, attributes: checkAttributeFilter(filter.attributes, 'listRuns()') };
    await this.ensureReady();
    return this.storage.listRuns(filter);
  }

  /** Records a cancel request; the run ends as `cancelled` once a worker processes it. */
  async cancel(runId: string, reason?: string): Promise<void> {
    if (reason !== undefined && typeof reason !== 'string') throw new InvalidArgumentError('cancel(): reason must be a string.');
    await this.appendToRun(runId, 'cancel_requested', reason === undefined ? {} : { reason }, 'cancel');
  }

  /**
   * Sends a named signal to a run; it is buffered until a waitForSignal(name) takes it. Throws
   * RunNotFoundError, RunAlreadyFinishedError, or EventLimitExceededError when the run's log already
   * holds `limits.maxEvents` events; in each case nothing is written.
   */
  async sendSignal(runId: string, name: string, payload?: unknown): Promise<void> {
    checkSignalName(name, 'sendSignal');
    await this.ensureReady(); // the limits of a config file apply
    const serialized = checkPayload(serialize(payload, `the payload of signal "${name}"`), `The payload of signal "${name}"`, this.limits);
    await this.appendToRun(runId, 'signal_received', { name, payload: serialized }, 'signal', this.limits.maxEvents);
  }

  /**
   * Sends an update to a run and resolves with the answer of its handler (`update.handle(fn)` in
   * the workflow). The update's `schema` and `validate` check the payload here first: a refusal
   * writes only an `update_rejected` event and throws UpdateRejectedError. A handler that throws
   * makes this throw UpdateFailedError (the run goes on), as does a run that ends before handling
   * the update; `timeout` gives up with UpdateTimeoutError. The answer is recorded in the run's log,
   * so a call retried with the same `updateId` appends nothing and gets the same answer. `update`
   * may be the definition or its name (checked with the definition of that name in this process).
   */
  async update<T, R>(runId: string, update: UpdateDefinition<T, R> | string, payload: T, options: UpdateCallOptions = {}): Promise<R> {
    return deliverUpdate<R>(this, runId, await prepareUpdate(this, update, payload, options));
  }

  /**
   * Update-with-start: starts the run of `wf` whose `idempotencyKey` no run has yet (as
   * `startWith`), or finds the one that has it, then sends it the update and waits for its answer,
   * in one call: `{ run, result }`. A payload the update refuses starts no run. Retried with the
   * same key and `updateId`, it starts no second run and delivers no second update.
   */
  async updateWithStart<A extends unknown[], WR, T, R>(wf: Workflow<A, WR>, args: A, options: UpdateWithStartOptions<T, R>): Promise<{ run: RunHandle<Awaited<WR>>; result: R }> {
    checkUpdateWithStart(options);
    const { update, payload, updateId, timeout, ...startOptions } = options;
    const prepared = await prepareUpdate(this, update, payload, { updateId, timeout });
    if (!prepared.ok) {
      // No run is started for a refused update; an unfinished one with the key records the refusal.
      const existing = await this.getRunByKey(wf, options.idempotencyKey);
      if (existing) {
        await deliverUpdate(this, existing.runId, prepared).catch((err: unknown) => {
          if (!(err instanceof RunAlreadyFinishedError)) throw err;
        });
      }
      throw new UpdateRejectedError(existing?.runId, prepared.name, prepared.reason);
    }
    const run = await this.startWith(wf, args, startOptions);
    return { run, result: await deliverUpdate<R>(this, run.runId, prepared) };
  }

  /**
   * Resumes the hook with this token. A single-use hook's token is spent with its payload; a
   * multi-use hook takes one payload per call until its workflow closes it. Throws HookNotFoundError
   * (wrong token), HookAlreadyUsedError (spent, or closed), HookExpiredError, or
   * HookPayloadInvalidError (the payload fails the hook's schema, when its definition is loaded in
   * this process); in each case nothing is written.
   */
  async resumeHook(token: string, payload?: unknown): Promise<{ runId: string }> {
    await this.ensureReady();
    return resumeHook(this, token, payload);
  }

  /**
   * Appends one event from outside the workflow (cancel, signal), retrying on races, then wakes the
   * run. A run that continued as new passes it on: the chain is followed to the run that is current.
   * With `maxEvents`, a log that already holds that many events takes nothing (EventLimitExceededError):
   * senders cannot grow a run's log past the limit while its workers are slow or down.
   */
  private async appendToRun<K extends EventType>(runId: string, type: K, data: EventDataMap[K], reason: 'cancel' | 'signal', maxEvents?: number): Promise<void> {
    await this.ensureReady();
    for (let target = runId; ; ) {
      const appended = await this.appendExternal(target, type, data, { maxEvents });
      if (appended.ok) {
        await publishTask(this.broker, brokerQueue(appended.queue), runTask(target, reason), 0, this.clock);
        return;
      }
      if (appended.missing) throw new RunNotFoundError(target);
      const run = appended.status === 'continued' ? await this.storage.getRun(target) : undefined;
      const next = run && (await this.nextInChain(run));
      if (!next) throw new RunAlreadyFinishedError(target, appended.status!, reason);
      target = next;
    }
  }

  /**
   * @internal Appends one event to a run that is not finished, re-reading and retrying when another
   * writer wins the race. `run` patches the record in the same append (a termination, say); without a
   * status in it, a suspended run is marked running (wakePatch).
   */
  async appendExternal<K extends EventType>(
    runId: string,
    type: K,
    data: EventDataMap[K],
    options: { correlationId?: string; run?: RunPatch; releaseSlots?: boolean; maxEvents?: number } = {},
  ): Promise<{ ok: true; queue: string } | { ok: false; missing: boolean; status?: RunStatus }> {
    type Appended = { ok: true; queue: string } | { ok: false; missing: boolean; status?: RunStatus };
    return fencedAppend<Appended>(this.storage, async () => {
      const run = await this.storage.getRun(runId);
      if (!run) return { done: { ok: false, missing: true } };
      if (FINISHED_STATUSES.has(run.status)) return { done: { ok: false, missing: false, status: run.status } };
      if (options.maxEvents !== undefined && run.lastSeq >= options.maxEvents) throw new EventLimitExceededError(runId, options.maxEvents);
      const event = makeEvent(runId, run.lastSeq + 1, type, data, options.correlationId, this.clock()) as DurablyEvent;
      return { append: { runId, expectedSeq: run.lastSeq, events: [event], run: wakePatch(run, options.run), releaseSlots: options.releaseSlots }, value: { ok: true, queue: run.queue } };
    });
  }

  /** Closes storage and broker. */
  async close(): Promise<void> {
    this.clockSync?.stop();
    await Promise.allSettled([this.broker.close(), this.storage.close()]);
  }
}
