import { randomUUID } from 'node:crypto';
import type { Broker } from '../broker/broker.js';
import { parseDuration, type Duration } from '../duration.js';
import { checkQueue, checkTags, isWorkflow, validateArgs, type Workflow } from '../definitions.js';
import {
  AppendConflictError,
  CancelledError,
  HookAlreadyUsedError,
  HookExpiredError,
  HookNotFoundError,
  HookPayloadInvalidError,
  InvalidArgumentError,
  ResultTimeoutError,
  RunAlreadyFinishedError,
  RunNotFoundError,
  WorkflowFailedError,
} from '../errors.js';
import { makeEvent, type DurablyEvent, type EventDataMap, type EventType } from '../events.js';
import { getHookDefinition } from '../hooks.js';
import type { HookRecord } from '../storage/storage.js';
import { deserialize, objectToError, serialize } from '../serialization.js';
import { FINISHED_STATUSES, type RunFilter, type RunPage, type RunRecord, type RunStatus, type Storage } from '../storage/storage.js';
import { publishTask } from '../worker/publish.js';
import { brokerQueue } from '../worker/messages.js';
import { listenForRemoteFinishes, onRunFinished } from './notify.js';
import { Schedules } from '../schedules.js';
import { Execution, type ExecutionDeps } from '../replay/execution.js';
import { createLogger } from '../logger.js';
import type { QueryDefinition } from '../hooks.js';
import { DEFAULT_LIMITS, checkPayload, type Limits } from '../limits.js';
import { waitingOf, type RunWaiting } from './waiting.js';

export interface StartOptions {
  /** A second start with the same key returns the first run instead of starting another. */
  idempotencyKey?: string;
  /** Start no earlier than this long from now. */
  delay?: Duration;
  /** Start no earlier than this time. */
  startAt?: Date;
  /** Queue of the run's workflow tasks (default: the workflow's queue). */
  queue?: string;
  /** Use this run id instead of a generated one. */
  runId?: string;
  /** `false`: run in this process without storing anything (transient mode). */
  durable?: boolean;
  /** Labels for this run, added to the workflow's; filter with listRuns({ tags }). */
  tags?: string[];
}

export interface ClientOptions {
  storage: Storage;
  broker: Broker;
  /** Payload size and event count limits (defaults: 1 MiB, warn at 10,000 events, fail at 50,000). */
  limits?: Partial<Limits>;
  /** The clock; tests can replace it. */
  clock?: () => number;
}

const RUN_ID_PATTERN = /^[A-Za-z0-9_.:-]{1,128}$/;

/** A handle to one run: its id, its status, its outcome and its log. */
export class RunHandle<R = unknown> {
  constructor(
    private readonly client: Client,
    readonly runId: string,
  ) {}

  async status(): Promise<RunStatus> {
    return (await this.record()).status;
  }

  /** The run record (status, times, result or error). */
  async record(): Promise<RunRecord> {
    const run = await this.client.storage.getRun(this.runId);
    if (!run) throw new RunNotFoundError(this.runId);
    return run;
  }

  /**
   * Waits for the run to finish. Resolves with the workflow's return value; rejects with
   * WorkflowFailedError (cause: the workflow's error), CancelledError, or ResultTimeoutError.
   */
  async result(options: { timeout?: Duration } = {}): Promise<R> {
    const timeoutMs = options.timeout === undefined ? undefined : parseDuration(options.timeout, 'result({ timeout })');
    const deadline = timeoutMs === undefined ? Infinity : Date.now() + timeoutMs;
    const storage = this.client.storage;
    // Same-process workers notify at once, and storages that can (Postgres, Redis) tell of runs
    // finished by other processes; polling with backoff is the safety net, slow when notices come.
    let wake: (() => void) | undefined;
    // Set by a notice that arrives while the run is being read, so it is not lost.
    let noticed = false;
    const onNotice = () => {
      noticed = true;
      wake?.();
    };
    let runId = this.runId;
    let unsubscribe = onRunFinished(storage, runId, onNotice);
    const notified = await listenForRemoteFinishes(storage);
    const maxDelay = notified ? 2000 : 500;
    try {
      let delay = notified ? 250 : 10;
      for (;;) {
        noticed = false;
        const run = await storage.getRun(runId);
        if (!run) throw new RunNotFoundError(runId);
        // Follow continueAsNew to the run that carries on; its outcome is this run's outcome.
        const next = await this.client.nextInChain(run);
        if (next) {
          runId = next;
          unsubscribe();
          unsubscribe = onRunFinished(storage, runId, onNotice);
          continue;
        }
        if (FINISHED_STATUSES.has(run.status)) return outcomeOf<R>(run);
        const remaining = deadline - Date.now();
        if (remaining <= 0) throw new ResultTimeoutError(runId, timeoutMs!, run.status);
        if (noticed) continue; // finished while we were reading: read again at once
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(delay, remaining));
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = undefined;
        delay = Math.min(delay * 2, maxDelay);
      }
    } finally {
      unsubscribe();
    }
  }

  /**
   * Why the run, unfinished, is not progressing by itself, when the engine knows: it waits for a
   * worker that has its workflow (no worker that received it has). Undefined otherwise (it runs, or
   * waits on a timer, a hook, a signal or a step).
   */
  async waitingFor(): Promise<RunWaiting | undefined> {
    return waitingOf(this.client.storage, await this.record());
  }

  /** The run's full event log, in seq order. */
  async events(fromSeq = 1): Promise<DurablyEvent[]> {
    return this.client.storage.readEvents(this.runId, fromSeq);
  }

  /** Asks the run to stop: it sees a CancelledError at its current await and ends as `cancelled`. */
  async cancel(reason?: string): Promise<void> {
    await this.client.cancel(this.runId, reason);
  }
}

function outcomeOf<R>(run: RunRecord): R {
  switch (run.status) {
    case 'completed':
      return (run.result === undefined ? undefined : deserialize(run.result)) as R;
    case 'failed':
      throw new WorkflowFailedError(run.runId, run.error ? objectToError(run.error) : new Error('unknown error'));
    case 'cancelled':
      throw new CancelledError(`run ${run.runId} was cancelled`);
    default:
      throw new WorkflowFailedError(run.runId, new Error(`run ended with status ${run.status}`));
  }
}

/** Starts and observes runs on one storage and broker. */
export class Client {
  readonly storage: Storage;
  readonly broker: Broker;
  readonly clock: () => number;
  readonly limits: Limits;
  /** Create, pause, resume, trigger, delete and list schedules. */
  readonly schedules: Schedules;
  private ready?: Promise<void>;

  constructor(options: ClientOptions) {
    this.storage = options.storage;
    this.broker = options.broker;
    this.clock = options.clock ?? Date.now;
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.schedules = new Schedules(this);
  }

  /**
   * Answers a query by replaying the run's log in this process (no step runs, nothing is written):
   * the workflow's code must be the one that wrote the log.
   */
  async query<T>(wf: Workflow<any[], any>, runId: string, query: QueryDefinition<T>): Promise<T> {
    await this.ensureReady();
    const run = await this.storage.getRun(runId);
    if (!run) throw new RunNotFoundError(runId);
    if (run.workflow !== wf.definition.name) {
      throw new InvalidArgumentError(`query(): run ${runId} is a run of "${run.workflow}", not of "${wf.definition.name}".`);
    }
    const readOnly: ExecutionDeps = {
      storage: this.storage,
      logger: createLogger('silent'),
      workerId: 'query',
      clock: this.clock,
      inlineRetryMaxMs: 0,
      runsInline: () => false,
      runAttempt: async () => ({ ok: false, error: new Error('queries run no steps') }),
      afterFlush: async () => undefined,
    };
    const execution = new Execution(run, wf.definition, readOnly);
    await execution.feed(await this.storage.readEvents(runId));
    const answer = execution.answerQuery(query.name);
    if (!answer.found) throw new InvalidArgumentError(`query(): run ${runId} has not registered a handler for query "${query.name}" (at the point its log has reached).`);
    return answer.value as T;
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

  /** Runs the idempotent schema set-up of storage and broker once per client. */
  ensureReady(): Promise<void> {
    this.ready ??= Promise.all([this.storage.migrate(), this.broker.migrate()]).then(() => undefined);
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
    if (!RUN_ID_PATTERN.test(runId)) {
      throw new InvalidArgumentError(`start(): runId ${JSON.stringify(runId)} is invalid: use 1-128 characters from letters, digits, "_", "-", "." and ":".`);
    }
    if (options.idempotencyKey !== undefined && (typeof options.idempotencyKey !== 'string' || options.idempotencyKey.length === 0 || options.idempotencyKey.length > 256)) {
      throw new InvalidArgumentError('start(): idempotencyKey must be a non-empty string of at most 256 characters.');
    }
    const now = this.clock();
    let startAt: number | undefined;
    if (options.startAt !== undefined) {
      startAt = options.startAt.getTime();
      if (Number.isNaN(startAt)) throw new InvalidArgumentError('start(): startAt is an invalid Date.');
    }
    if (options.delay !== undefined) startAt = Math.max(startAt ?? 0, now + parseDuration(options.delay, 'start({ delay })'));
    const validArgs = validateArgs(def.schema, args, `workflow "${def.name}"`) as A;
    if (!def.durable || options.durable === false) {
      // Loaded on use: transient runs touch neither storage nor broker.
      const { startTransient } = await import('../transient.js');
      return startTransient(this, wf, validArgs, runId) as Promise<RunHandle<Awaited<R>>>;
    }
    await this.ensureReady();
    const serializedArgs = checkPayload(serialize(validArgs, `the arguments of workflow "${def.name}"`), `The arguments of workflow "${def.name}"`, this.limits);
    const tags = [...new Set([...def.tags, ...checkTags(options.tags, 'start()')])];
    const { runId: id } = await this.startSerialized(def.name, queue, serializedArgs, { runId, idempotencyKey: options.idempotencyKey, startAt, now, tags });
    return new RunHandle(this, id);
  }

  /** @internal Creates a run from already serialized arguments and publishes its start (schedules use it). */
  async startSerialized(
    workflowName: string,
    queue: string,
    serializedArgs: string,
    options: { runId?: string; idempotencyKey?: string; startAt?: number; now?: number; tags?: string[]; scheduledAt?: number; scheduleId?: string },
  ): Promise<{ runId: string; created: boolean }> {
    const now = options.now ?? this.clock();
    const runId = options.runId ?? randomUUID();
    const { idempotencyKey, startAt } = options;
    const data: EventDataMap['run_created'] = { workflow: workflowName, args: serializedArgs, queue };
    if (idempotencyKey !== undefined) data.idempotencyKey = idempotencyKey;
    if (startAt !== undefined) data.startAt = startAt;
    if (options.scheduledAt !== undefined) data.scheduledAt = options.scheduledAt;
    if (options.scheduleId !== undefined) data.scheduleId = options.scheduleId;
    const first = makeEvent(runId, 1, 'run_created', data, undefined, now);
    const tags = options.tags?.length ? options.tags : undefined;
    const { run, created } = await this.storage.createRun({ runId, workflow: workflowName, queue, args: serializedArgs, idempotencyKey, startAt, createdAt: now, firstEvent: first, tags });
    if (created) {
      // If this process dies right here the run stays pending; the workers' recovery sweep publishes it.
      await publishTask(this.broker, brokerQueue(queue), { v: 1, kind: 'run', runId, reason: 'start' }, Math.max(0, (startAt ?? now) - now), this.clock);
    }
    return { runId: run.runId, created };
  }

  getRun<R = unknown>(runId: string): RunHandle<R> {
    return new RunHandle<R>(this, runId);
  }

  async listRuns(filter: RunFilter = {}): Promise<RunPage> {
    await this.ensureReady();
    return this.storage.listRuns(filter);
  }

  /** Records a cancel request; the run ends as `cancelled` once a worker processes it. */
  async cancel(runId: string, reason?: string): Promise<void> {
    await this.appendToRun(runId, 'cancel_requested', reason === undefined ? {} : { reason }, 'cancel');
  }

  /** Sends a named signal to a run; it is buffered until a waitForSignal(name) takes it. */
  async sendSignal(runId: string, name: string, payload?: unknown): Promise<void> {
    if (typeof name !== 'string' || name.length === 0 || name.length > 200) throw new InvalidArgumentError('sendSignal: name must be a non-empty string of at most 200 characters.');
    const serialized = checkPayload(serialize(payload, `the payload of signal "${name}"`), `The payload of signal "${name}"`, this.limits);
    await this.appendToRun(runId, 'signal_received', { name, payload: serialized }, 'signal');
  }

  /**
   * Resumes the hook with this token. Throws HookNotFoundError (wrong token), HookAlreadyUsedError,
   * HookExpiredError, or HookPayloadInvalidError (the payload fails the hook's schema, when its
   * definition is loaded in this process); in each case nothing is written.
   */
  async resumeHook(token: string, payload?: unknown): Promise<{ runId: string }> {
    await this.ensureReady();
    if (typeof token !== 'string' || token.length === 0 || token.length > 200) throw new HookNotFoundError();
    let hook = await this.storage.getHook(token);
    if (!hook) throw new HookNotFoundError();
    const def = getHookDefinition(hook.name);
    let value = payload;
    if (def?.schema) {
      const parsed = def.schema.safeParse(payload);
      if (!parsed.success) throw new HookPayloadInvalidError(hook.name, describeIssues(parsed.error));
      value = parsed.data;
    }
    const serialized = checkPayload(serialize(value, `the payload of hook "${hook.name}"`), `The payload of hook "${hook.name}"`, this.limits);
    for (let attempt = 0; ; attempt++) {
      checkHookUsable(hook, this.clock());
      const run = await this.storage.getRun(hook.runId);
      if (!run) throw new HookNotFoundError();
      if (FINISHED_STATUSES.has(run.status)) throw new HookExpiredError(run.runId);
      const now = this.clock();
      const event = makeEvent(run.runId, run.lastSeq + 1, 'hook_received', { payload: serialized }, hook.correlationId, now);
      try {
        // The consumed mark is written in the same atomic append: of two racing resumes, one wins.
        await this.storage.append({ runId: run.runId, expectedSeq: run.lastSeq, events: [event], setHooks: [{ ...hook, consumedAt: now }] });
        break;
      } catch (err) {
        if (!(err instanceof AppendConflictError) || attempt >= 50) throw err;
        hook = (await this.storage.getHook(token))!;
      }
    }
    await publishTask(this.broker, brokerQueue((await this.storage.getRun(hook.runId))!.queue), { v: 1, kind: 'run', runId: hook.runId, reason: 'hook' }, 0, this.clock);
    return { runId: hook.runId };
  }

  /**
   * Appends one event from outside the workflow (cancel, signal), retrying on races, then wakes the
   * run. A run that continued as new passes it on: the chain is followed to the run that is current.
   */
  private async appendToRun<K extends EventType>(runId: string, type: K, data: EventDataMap[K], reason: 'cancel' | 'signal'): Promise<void> {
    await this.ensureReady();
    for (let target = runId; ; ) {
      const appended = await this.appendExternal(target, type, data);
      if (appended.ok) {
        await publishTask(this.broker, brokerQueue(appended.queue), { v: 1, kind: 'run', runId: target, reason }, 0, this.clock);
        return;
      }
      if (appended.missing) throw new RunNotFoundError(target);
      const run = appended.status === 'continued' ? await this.storage.getRun(target) : undefined;
      const next = run && (await this.nextInChain(run));
      if (!next) throw new RunAlreadyFinishedError(target, appended.status!);
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
    options: { correlationId?: string; run?: import('../storage/storage.js').RunPatch; releaseSlots?: boolean } = {},
  ): Promise<{ ok: true; queue: string } | { ok: false; missing: boolean; status?: RunStatus }> {
    for (let attempt = 0; ; attempt++) {
      const run = await this.storage.getRun(runId);
      if (!run) return { ok: false, missing: true };
      if (FINISHED_STATUSES.has(run.status)) return { ok: false, missing: false, status: run.status };
      const event = makeEvent(runId, run.lastSeq + 1, type, data, options.correlationId, this.clock()) as DurablyEvent;
      try {
        await this.storage.append({ runId, expectedSeq: run.lastSeq, events: [event], run: options.run, releaseSlots: options.releaseSlots });
        return { ok: true, queue: run.queue };
      } catch (err) {
        if (err instanceof AppendConflictError && attempt < 100) continue;
        throw err;
      }
    }
  }

  /** Closes storage and broker. */
  async close(): Promise<void> {
    await Promise.allSettled([this.broker.close(), this.storage.close()]);
  }
}

function checkHookUsable(hook: HookRecord, now: number): void {
  if (hook.consumedAt !== undefined) {
    if (hook.expiresAt !== undefined && hook.consumedAt >= hook.expiresAt) throw new HookExpiredError(hook.runId, hook.expiresAt);
    throw new HookAlreadyUsedError(hook.runId);
  }
  if (hook.expiresAt !== undefined && hook.expiresAt <= now) throw new HookExpiredError(hook.runId, hook.expiresAt);
}

function describeIssues(error: unknown): unknown {
  const issues = (error as { issues?: Array<{ path?: unknown[]; message?: string }> })?.issues;
  if (Array.isArray(issues)) return issues.map((i) => `${(i.path ?? []).join('.') || '(root)'}: ${i.message}`).join('; ');
  return error instanceof Error ? error.message : error;
}
