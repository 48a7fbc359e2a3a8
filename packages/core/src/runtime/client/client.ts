import { randomUUID } from 'node:crypto';
import {
  type Broker,
  parseDuration,
  type Duration,
  HookNotFoundError,
  HookPayloadInvalidError,
  InvalidArgumentError,
  RunAlreadyFinishedError,
  RunIdInUseError,
  RunNotFoundError,
  makeEvent,
  type DurablyEvent,
  type EventDataMap,
  type EventType,
  serialize,
  FINISHED_STATUSES,
  type RunFilter,
  type RunPage,
  type RunRecord,
  type RunStatus,
  type Storage,
  type PayloadCodec,
  type Logger,
  DEFAULT_LIMITS,
  checkPayload,
  type Limits,
  checkQueue,
  checkTags,
  checkRunId,
  checkIdempotencyKey,
  checkAttributeFilter,
  checkSignalName,
  checkRunFilter,
  HOOK_TOKEN_PATTERN,
  EventLimitExceededError,
  UpdateRejectedError,
} from '@durably/contracts';
import { isWorkflow, validateArgs, type Workflow } from '../../engine/definitions.js';
import { getHookDefinition, type QueryDefinition } from '../../engine/definitions.js';
import { publishTask } from '../tasks/publish.js';
import { brokerQueue, runTask } from '../tasks/messages.js';
import { RunHandle } from './handle.js';
import { findHook, resumeRound } from './resume-hook.js';
import { fencedAppend } from '../../engine/fenced-append.js';
import type { RunStarter, SerializedStartOptions } from '../host.js';
import { connectWithRetry } from './connect.js';
import { Schedules } from '../schedules.js';
import { answerQuery } from './query.js';
import { checkUpdateWithStart, deliverUpdate, prepareUpdate, type UpdateCallOptions } from './updates.js';
import type { UpdateDefinition } from '../../engine/update-definition.js';
import { createLogger } from '../../logger.js';
import type { WorkerConfig } from '../../config/types.js';
import { combineInstrumentation, type CombinedInstrumentation, type Instrumentation } from '../../observe/instrumentation.js';
import { otelInstrumentation } from '../../observe/otel.js';
import { ClockSync, type ClockSyncOptions } from './clock-sync.js';
import { encryptStorage } from '../../codec/encrypt-storage.js';

export { RunHandle, type StartOutcome } from './handle.js';
export type { UpdateCallOptions } from './updates.js';

/** Options of `client.updateWithStart(workflow, args, options)`: the start's, with the key required, and the update's. */
export interface UpdateWithStartOptions<T, R> extends StartOptions, UpdateCallOptions {
  /** Finds the run to update; when no run of the workflow has it, the run started with this key. */
  idempotencyKey: string;
  /** The update to send, once the run exists. */
  update: UpdateDefinition<T, R> | string;
  /** Its payload. */
  payload: T;
}

// The engine's step context knows no client; the runtime adds the one its worker runs steps with.
declare module '../../engine/scope.js' {
  interface StepContext {
    /** @internal The worker's client (streams use it to reach other runs); absent outside a worker. */
    readonly client?: Client;
  }
}

/** Options of `startWith(workflow, args, options)` and `client.startWith(...)`. */
export interface StartOptions {
  /**
   * A second start of the same workflow with the same key returns the first run instead of starting
   * another (keys are unique per workflow). If that run was started with other arguments, the handle
   * says so (`argsDiffer`) and a warning is logged.
   */
  idempotencyKey?: string;
  /** Start no earlier than this long from now. */
  delay?: Duration;
  /** Start no earlier than this time. */
  startAt?: Date;
  /** Queue of the run's workflow tasks (default: the workflow's queue). */
  queue?: string;
  /**
   * Use this run id instead of a generated one. A start with the id of an existing run of the same
   * workflow and arguments returns that run (a start retried after a timeout, say); with another
   * workflow or other arguments it throws RunIdInUseError.
   */
  runId?: string;
  /** `false`: run in this process without storing anything (transient mode). */
  durable?: boolean;
  /** Labels for this run, added to the workflow's; filter with listRuns({ tags }). */
  tags?: string[];
}

/**
 * Options of `new Client(...)`: a storage and a broker instance, and the client's limits, logger and
 * hooks. `createClient({ storage: 'postgres://...' })` and `connect()` build one from URLs or the config.
 */
export interface ClientOptions {
  /** Where runs are stored. */
  storage: Storage;
  /** Where tasks are published. */
  broker: Broker;
  /** Payload size and event count limits (defaults: 1 MiB, warn at 10,000 events, fail at 50,000). */
  limits?: Partial<Limits>;
  /**
   * The engine's clock, taken as it is (no synchronisation with the storage); tests replace it to
   * skip time. Default: the machine's clock following the storage's (see `clockSync`).
   */
  clock?: () => number;
  /**
   * Without a `clock` option, the engine's time follows the storage's clock (`Storage.serverTime`:
   * Postgres, Redis; the embedded storages share the machine's): its offset from the machine's
   * clock is measured when the client connects and every `interval` after, and a machine clock
   * further off than `warnAbove` is logged. `false` runs on the machine's clock alone. A storage
   * with no clock of its own (DynamoDB) runs on the machine's clock, which must be kept in sync (NTP).
   */
  clockSync?: ClockSyncOptions | false;
  /** Defaults for workers created on this client (the config file's `worker`); the worker's own options win. */
  worker?: WorkerConfig;
  /** Your own hooks (the client calls `runStart` when it creates a run); OpenTelemetry spans are added when its API is installed. */
  instrumentation?: Instrumentation;
  /** @internal Settings known once the config is loaded (createClient): applied by ensureReady. */
  deferred?: () => Promise<Pick<ClientOptions, 'limits' | 'worker' | 'addresses' | 'codec'>>;
  /** Where the client logs (a reused idempotency key, waits for a backend). Default: createLogger(). */
  logger?: Logger;
  /**
   * How long the first use of the client (ensureReady: worker.start(), the first start()...) keeps
   * trying to reach a storage or broker that is down, with exponential backoff, logging each wait.
   * 0 fails at once. Default 60s.
   */
  connectTimeout?: Duration;
  /** The URLs the backends were made from (passwords hidden), for log lines. */
  addresses?: { storage?: string; broker?: string };
  /**
   * Encrypts payloads at rest with this codec (`aesGcmCodec({ keys, current })`): the client wraps
   * `storage` with `encryptStorage`, and encrypts the arguments that dispatched step tasks carry
   * through the broker. Workers made on the client use it. See docs/guides/encryption.md.
   */
  codec?: PayloadCodec;
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
    const start = await this.storage.getRun(runId);
    if (!start) throw new RunNotFoundError(runId);
    const chain: RunRecord[] = [start];
    for (let first = (await this.storage.readEvents(runId, 1, 1))[0]; first?.type === 'run_created' && first.data.continuedFrom; ) {
      const previous = await this.storage.getRun(first.data.continuedFrom);
      if (!previous) break; // deleted by retention
      chain.unshift(previous);
      first = (await this.storage.readEvents(previous.runId, 1, 1))[0];
    }
    for (let current = start; ; ) {
      const nextId = await this.nextInChain(current);
      const next = nextId === undefined ? undefined : await this.storage.getRun(nextId);
      if (!next) break;
      chain.push(next);
      current = next;
    }
    return chain;
  }

  /** @internal The run that continues `run` (continueAsNew), read from its final event; undefined if it did not continue. */
  async nextInChain(run: RunRecord): Promise<string | undefined> {
    if (run.status !== 'continued') return undefined;
    const [last] = await this.storage.readEvents(run.runId, run.lastSeq, 1);
    return last?.type === 'run_continued' ? last.data.nextRunId : undefined;
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
      return startTransient(this, wf, validArgs, runId) as Promise<RunHandle<Awaited<R>>>;
    }
    await this.ensureReady();
    // Read once ready: the clock follows the storage's from then on.
    const now = this.clock();
    if (delayMs !== undefined) startAt = Math.max(startAt ?? 0, now + delayMs);
    const serializedArgs = checkPayload(serialize(validArgs, `the arguments of workflow "${def.name}"`), `The arguments of workflow "${def.name}"`, this.limits);
    const tags = [...new Set([...def.tags, ...checkTags(options.tags, 'start()')])];
    const { run, created } = await this.startSerialized(def.name, queue, serializedArgs, { runId, idempotencyKey: options.idempotencyKey, startAt, now, tags });
    if (created) return new RunHandle(this, run.runId, { created: true });
    const byKey = options.idempotencyKey !== undefined && run.workflow === def.name && run.idempotencyKey === options.idempotencyKey;
    const argsDiffer = run.args !== serializedArgs;
    if (!byKey) {
      // Found by its runId: the same start again (retried after a timeout, say) gets the run; any
      // other start must not be mistaken for it.
      if (run.workflow !== def.name || argsDiffer) throw new RunIdInUseError(run.runId, run.workflow, def.name);
      return new RunHandle(this, run.runId, { created: false });
    }
    if (argsDiffer) {
      this.logger.warn('start(): the idempotency key was already used by a run with other arguments; that run is returned and these arguments are ignored', {
        workflow: def.name,
        idempotencyKey: options.idempotencyKey,
        runId: run.runId,
      });
    }
    return new RunHandle(this, run.runId, { created: false, argsDiffer });
  }

  /** @internal Creates a run from already serialized arguments and publishes its start (schedules use it). */
  async startSerialized(
    workflowName: string,
    queue: string,
    serializedArgs: string,
    options: SerializedStartOptions,
  ): Promise<{ runId: string; created: boolean; run: RunRecord }> {
    const now = options.now ?? this.clock();
    const runId = options.runId ?? randomUUID();
    const { idempotencyKey, startAt } = options;
    const data: EventDataMap['run_created'] = { workflow: workflowName, args: serializedArgs, queue, nesting: { depth: 0, maxDepth: this.limits.maxChildDepth } };
    if (idempotencyKey !== undefined) data.idempotencyKey = idempotencyKey;
    if (startAt !== undefined) data.startAt = startAt;
    if (options.scheduledAt !== undefined) data.scheduledAt = options.scheduledAt;
    if (options.scheduleId !== undefined) data.scheduleId = options.scheduleId;
    // The caller's trace context travels with the run, so every worker that runs it continues the trace.
    const scope = this.instrumentation.runStart({ runId, workflow: workflowName, queue });
    if (scope.trace) Object.assign(data, scope.trace);
    const first = makeEvent(runId, 1, 'run_created', data, undefined, now);
    const tags = options.tags?.length ? options.tags : undefined;
    try {
      const { run, created } = await scope.wrap(() => this.storage.createRun({ runId, workflow: workflowName, queue, args: serializedArgs, idempotencyKey, startAt, createdAt: now, firstEvent: first, tags }));
      if (created) {
        // If this process dies right here the run stays pending; the workers' recovery sweep publishes it.
        await publishTask(this.broker, brokerQueue(queue), runTask(runId, 'start'), Math.max(0, (startAt ?? now) - now), this.clock);
      }
      scope.end();
      return { runId: run.runId, created, run };
    } catch (err) {
      scope.end(err);
      throw err;
    }
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
    if (typeof token !== 'string' || !HOOK_TOKEN_PATTERN.test(token)) throw new HookNotFoundError();
    const hook = await findHook(this.storage, token);
    if (!hook) throw new HookNotFoundError();
    const name = hook.record.name;
    const def = getHookDefinition(name);
    let value = payload;
    if (def?.schema) {
      const parsed = def.schema.safeParse(payload);
      if (!parsed.success) throw new HookPayloadInvalidError(name, describeIssues(parsed.error));
      value = parsed.data;
    }
    const serialized = checkPayload(serialize(value, `the payload of hook "${name}"`), `The payload of hook "${name}"`, this.limits);
    const resumed = await fencedAppend(this.storage, () => resumeRound(this.storage, hook, serialized, this.clock));
    await publishTask(this.broker, brokerQueue(resumed.queue), runTask(resumed.runId, 'hook'), 0, this.clock);
    return { runId: resumed.runId };
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
   * writer wins the race. `run` patches the record in the same append (a termination, say).
   */
  async appendExternal<K extends EventType>(
    runId: string,
    type: K,
    data: EventDataMap[K],
    options: { correlationId?: string; run?: import('@durably/contracts').RunPatch; releaseSlots?: boolean; maxEvents?: number } = {},
  ): Promise<{ ok: true; queue: string } | { ok: false; missing: boolean; status?: RunStatus }> {
    type Appended = { ok: true; queue: string } | { ok: false; missing: boolean; status?: RunStatus };
    return fencedAppend<Appended>(this.storage, async () => {
      const run = await this.storage.getRun(runId);
      if (!run) return { done: { ok: false, missing: true } };
      if (FINISHED_STATUSES.has(run.status)) return { done: { ok: false, missing: false, status: run.status } };
      if (options.maxEvents !== undefined && run.lastSeq >= options.maxEvents) throw new EventLimitExceededError(runId, options.maxEvents);
      const event = makeEvent(runId, run.lastSeq + 1, type, data, options.correlationId, this.clock()) as DurablyEvent;
      return { append: { runId, expectedSeq: run.lastSeq, events: [event], run: options.run, releaseSlots: options.releaseSlots }, value: { ok: true, queue: run.queue } };
    });
  }

  /** Closes storage and broker. */
  async close(): Promise<void> {
    this.clockSync?.stop();
    await Promise.allSettled([this.broker.close(), this.storage.close()]);
  }
}

function describeIssues(error: unknown): unknown {
  const issues = (error as { issues?: Array<{ path?: unknown[]; message?: string }> })?.issues;
  if (Array.isArray(issues)) return issues.map((i) => `${(i.path ?? []).join('.') || '(root)'}: ${i.message}`).join('; ');
  return error instanceof Error ? error.message : error;
}
