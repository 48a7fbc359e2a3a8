import { hostname } from 'node:os';
import { setMaxListeners } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import { randomUUID } from 'node:crypto';
import {
  type Delivery,
  type DurablyEvent,
  type Subscription,
  parseDuration,
  type Duration,
  DuplicateNameError,
  DurablyError,
  InvalidArgumentError,
  TERMINAL_EVENT_TYPES,
  type Logger,
  FINISHED_STATUSES,
  deadLetterReason,
  PoisonMessageError,
} from '@durably/contracts';
import type { Client } from '../client/client.js';
import { notifyRunFinished, notifyRunProgress } from '../client/notify.js';
import { builtinWorkflows, getStepDefinition, isWorkflow, type StepDefinition, type Workflow, type WorkflowDefinition } from '../../engine/definitions.js';
import { createLogger, toLogger } from '../../logger.js';
import { Execution, StaleExecutionError, type FlushEffects } from '../../engine/execution.js';
import { brokerQueue, decodeTask, type RunTask, type StepTask, runTask, stepTaskAgain } from '../tasks/messages.js';
import { publishTask } from '../tasks/publish.js';
import { runStepAttempt } from '../../engine/step-runner.js';
import { runStepTask } from './step-task.js';
import { applyFlushEffects } from './after-flush.js';
import { repairFinished } from './family.js';
import { sweepStuckRuns, sweepTimers, type SweepContext } from './sweeps.js';
import { checkpointsFor, cleanUpAttempt, heartbeatsFor, waitForPermit } from './step-facilities.js';
import { ExecutionCache, resumesUnread, worthKeeping } from './cache.js';
import { Scheduler } from '../schedules.js';
import { LocalRuns } from './local-runs.js';
import type { RunInFlight } from './run-in-flight.js';
import { acquireConcurrency, watchForCancel } from './run-gates.js';
import { combineInstrumentation, type CombinedInstrumentation, type RunExecutionOutcome } from '../../observe/instrumentation.js';
import { logInstrumentation } from '../../observe/log-instrumentation.js';
import { otelInstrumentation } from '../../observe/otel.js';
import type { HttpOptions, WorkerConfig } from '../../config/types.js';
import { CONTINUE_WAIT_MS, MAX_DELIVERIES, deriveSettings, type Settings, type WorkerOptions } from './settings.js';

export type { WorkerOptions } from './settings.js';
import { attemptOutcome, describeInstance, runIdOf, startOperations } from './observability.js';
import { AttemptRegistry } from './attempts.js';
import { installSignalHandlers, type StopOnSignalsOptions } from './shutdown.js';
import { UnknownWorkflows } from './unknown-workflows.js';

/**
 * A worker consumes its queues, replays and advances runs, runs steps, and sweeps storage for
 * overdue timers and stuck runs. Any number of workers may share a storage and a broker.
 */
export class Worker {
  readonly workerId: string;
  private readonly workflows = new Map<string, WorkflowDefinition>();
  private settings: Settings;
  private readonly logger: Logger;
  private readonly cache: ExecutionCache;
  /** Runs being advanced here; `finished` resolves when this worker stops advancing the run. */
  private readonly active = new Map<string, RunInFlight>();
  private subscriptions: Subscription[] = [];
  private timers: NodeJS.Timeout[] = [];
  private running = false;
  private readonly stopController = new AbortController();

  constructor(
    private readonly client: Client,
    options: WorkerOptions,
  ) {
    // The config file's worker options are defaults; options given in code win.
    this.ownOptions = options;
    this.sawDefaults = client.workerDefaults;
    options = { ...client.workerDefaults, ...options };
    if (!Array.isArray(options.workflows)) throw new InvalidArgumentError('createWorker(): "workflows" must be an array of workflows.');
    for (const wf of options.workflows) {
      if (!isWorkflow(wf)) throw new InvalidArgumentError('createWorker(): every entry of "workflows" must be made with workflow(name, fn).');
      const known = this.workflows.get(wf.definition.name);
      if (known === wf.definition) continue; // the same workflow listed twice
      // Two definitions under one name (a module loaded twice, two copies of the package): the
      // worker could not tell which code a run of that name should run.
      if (known) throw new DuplicateNameError('workflow', wf.definition.name, undefined, undefined, 'createWorker()');
      this.workflows.set(wf.definition.name, wf.definition);
      if (wf.definition.schedule && options.scheduler !== false) this.declared.push(wf);
    }
    // Built-in workflows (the stream runs of defineStream, say) registered themselves: every worker runs them.
    for (const builtin of builtinWorkflows()) {
      const known = this.workflows.get(builtin.name);
      if (known && known !== builtin) throw new DuplicateNameError('workflow', builtin.name, undefined, undefined, 'createWorker()');
      this.workflows.set(builtin.name, builtin);
    }
    this.settings = deriveSettings(options);
    this.workerId = options.workerId ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.logger = toLogger(options.logger ?? createLogger()).child({ workerId: this.workerId });
    this.local = new LocalRuns({
      client,
      logger: this.logger,
      concurrency: () => this.settings.concurrency,
      running: () => this.running,
      windowMs: () => this.settings.localTimerWindowMs,
      processRun: (task) => this.processRun(task),
      handling: (delta) => void (this.handling += delta),
    });
    this.instrumentation = combineInstrumentation([logInstrumentation(this.logger), otelInstrumentation(), options.instrumentation]);
    this.http = options.http;
    this.attempts = new AttemptRegistry(client.storage, client.clock, () => this.settings.stepLeaseMs, this.logger);
    this.unknown = new UnknownWorkflows(client, this.logger, this.workerId, () => [...this.workflows.keys()]);
    this.cache = new ExecutionCache(options.cacheSize ?? 1000);
    // Every running attempt listens on the stop signal: one listener per attempt is expected.
    setMaxListeners(0, this.stopController.signal);
    this.stepOverrides = options.stepOverrides ?? new Map();
    this.retentionMs = options.retention === undefined ? undefined : parseDuration(options.retention, 'createWorker(): retention');
    this.scheduleIntervalMs = parseDuration(options.scheduleInterval ?? '1s', 'createWorker(): scheduleInterval');
    this.scheduler = options.scheduler === false ? undefined : new Scheduler(client, this.logger);
  }

  private scheduleIntervalMs: number;
  private readonly scheduler?: Scheduler;
  private readonly ownOptions: WorkerOptions;
  private sawDefaults?: WorkerConfig;
  private instrumentation: CombinedInstrumentation;
  private http?: HttpOptions;
  private ops?: { url: string; close(): Promise<void> };
  /** Trace context of runs being advanced here, for the steps they dispatch. */
  private readonly runTraces = new Map<string, () => import('../../observe/instrumentation.js').TraceContext | undefined>();

  /** The operations endpoint's base URL (`http://127.0.0.1:9464`) while it listens. */
  get httpAddress(): string | undefined {
    return this.ops?.url;
  }

  /**
   * A client made by createClient() loads its config file on first use, after workers may have been
   * created on it: its worker options are applied here, before anything runs.
   */
  private applyLateDefaults(): void {
    const defaults = this.client.workerDefaults;
    if (!defaults || defaults === this.sawDefaults) return;
    this.sawDefaults = defaults;
    const options = { ...defaults, ...this.ownOptions };
    this.settings = deriveSettings(options);
    this.retentionMs = options.retention === undefined ? undefined : parseDuration(options.retention, 'createWorker(): retention');
    this.scheduleIntervalMs = parseDuration(options.scheduleInterval ?? '1s', 'createWorker(): scheduleInterval');
    this.http = options.http;
  }
  /** Step attempts running here, with their leases. */
  private readonly attempts: AttemptRegistry;
  /** Runs of workflows this worker does not have. */
  private readonly unknown: UnknownWorkflows;
  /** Renews the leases until the worker has stopped (so also during stop's grace period). */
  private leaseTimer?: NodeJS.Timeout;
  /** Runs advanced here without the broker: local timers, runs that waited for this worker. */
  private readonly local: LocalRuns;

  /** Fires due schedule slots now (the test environment calls it after moving its clock). */
  async tickSchedules(): Promise<number> {
    return this.scheduler ? this.scheduler.tick() : 0;
  }

  private retentionMs?: number;

  private readonly stepOverrides: Map<string, (...args: any[]) => unknown>;
  private readonly declared: Workflow<any[], any>[] = [];
  private handling = 0;

  /** True while the worker is handling a task (tests use it to wait until the system is idle). */
  get busy(): boolean {
    return this.handling > 0 || this.active.size > 0;
  }

  private withOverride(def: StepDefinition): StepDefinition {
    const fn = this.stepOverrides.get(def.name);
    return fn ? { ...def, fn: fn as StepDefinition['fn'] } : def;
  }

  /** Connects, subscribes to the queues and starts the sweeps. */
  async start(): Promise<void> {
    if (this.running) return;
    await this.client.ensureReady();
    this.applyLateDefaults();
    this.running = true;
    for (const queue of this.settings.queues) {
      const sub = await this.client.broker.consume(brokerQueue(queue), (d) => this.handle(d), {
        concurrency: this.settings.concurrency,
        visibilityTimeoutMs: this.settings.visibilityTimeoutMs,
        maxDeliveries: MAX_DELIVERIES,
      });
      this.subscriptions.push(sub);
    }
    // Schedules declared on workflows: created or updated once, whichever worker gets there first.
    for (const wf of this.declared) {
      await this.client.schedules.ensureDeclared(wf, wf.definition.schedule!);
    }
    // Runs that waited for a worker with one of these workflows start now, here.
    void this.unknown
      .findWaitingRuns(new Set(this.workflows.keys()), this.settings.queues)
      .then((runIds) => this.local.runHere(runIds))
      .catch((err) => this.logger.error('looking for runs waiting for this worker failed', { error: String(err) }));
    let renewing = false;
    this.leaseTimer = setInterval(() => {
      if (renewing) return;
      renewing = true;
      void this.attempts.renew().finally(() => (renewing = false));
    }, Math.max(50, Math.min(1000, Math.floor(this.settings.stepLeaseMs / 3))));
    this.every(this.settings.timerSweepIntervalMs, () => sweepTimers(this.sweepContext()));
    this.every(this.settings.recoveryIntervalMs, () => sweepStuckRuns(this.sweepContext()));
    if (this.scheduler) {
      const scheduler = this.scheduler;
      this.every(this.scheduleIntervalMs, async () => void (await scheduler.tick()));
    }
    if (this.retentionMs !== undefined) {
      const retentionMs = this.retentionMs;
      this.every(this.settings.recoveryIntervalMs, async () => {
        const deleted = await this.client.storage.deleteFinishedRuns(this.client.clock() - retentionMs, 500);
        if (deleted > 0) this.logger.info('retention: deleted finished runs', { deleted });
      });
    }
    if (this.http) await this.startOps(this.http);
    this.logger.info('worker started', {
      storage: this.client.addresses.storage ?? describeInstance(this.client.storage),
      broker: this.client.addresses.broker ?? describeInstance(this.client.broker),
      queues: this.settings.queues,
      concurrency: this.settings.concurrency,
      stepMode: this.settings.stepMode,
      ...(this.ops ? { http: this.ops.url } : {}),
    });
  }

  private async startOps(http: HttpOptions): Promise<void> {
    const { metrics, server } = await startOperations(this.client, () => this.handling, () => this.running, this.settings.queues, http, this.logger);
    this.instrumentation = combineInstrumentation([this.instrumentation, metrics]);
    this.ops = server;
  }

  /**
   * Graceful stop: takes no new tasks and waits for the ones in hand. A task stopped half-way by
   * a crash instead is safe too: its message returns after the visibility timeout.
   */
  /**
   * Graceful stop: takes no new tasks and lets the ones in hand finish for up to `grace` (default:
   * wait for all). What is still running then is handed back: its runs and dispatched steps are
   * published again at once, so another worker carries on without waiting for a visibility timeout,
   * and their step signals are aborted. Their late results here are dropped (the log is fenced).
   */
  async stop(options: { grace?: Duration } = {}): Promise<void> {
    if (!this.running) return;
    this.running = false;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await this.local.handOver();
    const stopped = Promise.all(this.subscriptions.map((s) => s.stop()));
    if (options.grace !== undefined) {
      const graceMs = parseDuration(options.grace, 'worker.stop({ grace })');
      let timer: NodeJS.Timeout | undefined;
      const inTime = await Promise.race([stopped.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), graceMs)))]);
      clearTimeout(timer);
      if (!inTime) await this.handBack();
    } else {
      await stopped;
    }
    this.subscriptions = [];
    this.cache.clear();
    clearInterval(this.leaseTimer);
    this.leaseTimer = undefined;
    await this.ops?.close();
    this.ops = undefined;
    this.logger.info('worker stopped');
  }

  /**
   * Stops gracefully on SIGTERM and SIGINT (a deploy, a spot reclaim): what is in hand may finish
   * until shortly before `grace` (default 10s) ends, the rest is handed back, the client is closed
   * (`closeClient: false` keeps it), and the process exits, at the latest when the grace period ends
   * (`exit: false` leaves that to the app). See docs/concepts/shutdown.md.
   */
  stopOnSignals(options: StopOnSignalsOptions = {}): void {
    installSignalHandlers(this, this.client, this.logger, options);
  }

  private async handBack(): Promise<void> {
    const runs = [...this.executing.values()];
    const steps = [...this.stepTasks.values()];
    this.handedBack = true;
    for (const execution of runs) execution.abandon();
    // The next worker takes the attempts over at once, not after their leases lapse.
    await this.attempts.voidAll();
    this.stopController.abort(new DurablyError('the worker is stopping; the work was handed back'));
    await Promise.allSettled([
      ...runs.map((ex) => publishTask(this.client.broker, brokerQueue(ex.run.queue), runTask(ex.runId, 'recover'), 0, this.client.clock)),
      ...steps.map(({ task, queue }) => publishTask(this.client.broker, queue, stepTaskAgain(task), 0, this.client.clock)),
    ]);
    this.logger.info('handed back in-flight work', { runs: runs.length, steps: steps.length });
  }

  /** Executions being advanced and dispatched steps running now, for hand-back. */
  private readonly executing = new Map<string, Execution>();
  private readonly stepTasks = new Map<string, { task: StepTask; queue: string }>();
  private handedBack = false;

  private every(intervalMs: number, fn: () => Promise<void>): void {
    let busy = false;
    const timer = setInterval(() => {
      if (busy || !this.running) return;
      busy = true;
      fn()
        .catch((err) => this.logger.error('sweep failed', { error: String(err) }))
        .finally(() => (busy = false));
    }, intervalMs);
    // Not unref'd: a started worker keeps its process alive, like a server, until stop().
    this.timers.push(timer);
  }

  private async handle(delivery: Delivery): Promise<void> {
    this.handling++;
    try {
      await this.handleTask(delivery);
    } catch (err) {
      // The same rule every broker applies: tell when this failure is the one that dead-letters it.
      const reason = deadLetterReason(err, delivery.deliveryCount, MAX_DELIVERIES);
      if (reason !== undefined) this.instrumentation.deadLetter({ queue: delivery.queue, messageId: delivery.id, reason, runId: runIdOf(delivery.body) });
      throw err;
    } finally {
      this.handling--;
    }
  }

  private async handleTask(delivery: Delivery): Promise<void> {
    const task = decodeTask(delivery.body);
    const now = this.client.clock();
    const due = Math.max(task.sentAt ?? 0, task.notBefore ?? 0);
    this.instrumentation.taskReceived({ queue: delivery.queue, kind: task.kind, runId: task.runId, lagMs: due > 0 ? now - due : 0 });
    if (task.notBefore !== undefined && task.notBefore - now > 5) {
      // Delivered before it is due (sent ahead, or the broker caps delays).
      if (task.kind === 'run') await this.local.early(task, delivery.queue);
      else await publishTask(this.client.broker, delivery.queue, { ...task, notBefore: undefined }, task.notBefore - now, this.client.clock);
      return;
    }
    if (task.kind === 'run') await this.processRun(task, delivery.deliveryCount > 1);
    else await this.processStep(task, delivery.deliveryCount > 1);
  }

  // ---- Runs ----

  /** `redelivered`: the broker delivers this task again (its previous consumer failed or died). */
  private async processRun(task: RunTask, redelivered = false): Promise<void> {
    const state = this.active.get(task.runId);
    if (state) {
      // Already advancing here: make it look again when done instead of replaying in parallel, and
      // let the live execution look at its due times now (a timer's wake-up may be why this came).
      state.again = true;
      state.recover ||= task.reason === 'recover' || redelivered;
      state.redelivered ||= redelivered;
      state.timer ||= task.reason === 'timer';
      this.executing.get(task.runId)?.poke();
      return;
    }
    let finish!: () => void;
    const finished = new Promise<void>((resolve) => (finish = resolve));
    const mine: RunInFlight = { again: true, recover: task.reason === 'recover' || redelivered, redelivered, timer: task.reason === 'timer', finished };
    this.active.set(task.runId, mine);
    try {
      let stale = 0;
      while (mine.again) {
        mine.again = false;
        const recover = mine.recover;
        const redelivery = mine.redelivered;
        const timer = mine.timer;
        mine.recover = false;
        mine.redelivered = false;
        mine.timer = false;
        try {
          await this.advanceRun(task, recover, redelivery, timer);
        } catch (err) {
          this.cache.delete(task.runId);
          if (this.handedBack) return; // published again for another worker
          if (err instanceof StaleExecutionError && ++stale <= 10) {
            // Another writer moved the run on; replay from storage and continue from there.
            mine.again = true;
            mine.timer ||= timer;
            continue;
          }
          // Tasks for the run that came meanwhile were acked on this advance's word (they set `again`).
          // Its own task is retried by the broker, unless its delivery was lost with its connection,
          // and then its redelivery may be one of those: so the run is tried again here shortly.
          if (mine.again) this.local.retryAfterFailure(task.runId, mine.queue, err);
          throw err;
        }
      }
    } finally {
      this.active.delete(task.runId);
      finish();
    }
  }

  /** `timer`: woken by a timer, maybe a lapsed lease of a dispatched step's attempt. */
  private async advanceRun(task: RunTask, recover: boolean, redelivered = false, timer = false): Promise<void> {
    if (this.handedBack) return;
    const runId = task.runId;
    const storage = this.client.storage;
    let execution = this.cache.take(runId);
    const cached = execution !== undefined;
    if (execution) {
      // A timer's wake-up with something due goes on at once: its append is fenced (cache.ts).
      // So does a dispatched step's continuation here, with the log as its claim left it (continueRun).
      if (!(timer && !recover && resumesUnread(execution, this.client.clock()))) {
        const tail = (!recover && this.cache.knownTail(runId, execution.seq + 1)) || (await storage.readEvents(runId, execution.seq + 1));
        if (tail.some((e) => TERMINAL_EVENT_TYPES.has(e.type))) return;
        await execution.feed(tail);
      }
    } else {
      // Both reads at once: one round trip (Redis pipelines them; Postgres runs them side by side).
      // An append landing between them is harmless: the next append is fenced by the log.
      const [run, log] = await Promise.all([storage.getRun(runId), storage.readEvents(runId)]);
      if (!run) {
        // Runs are created before their first task is published, so no run means a task from another
        // deployment's storage, a hand-made message, or a run removed by retention: kept for a look.
        throw new PoisonMessageError(`Task for unknown run "${runId}": no run with this id is in this worker's storage (it was removed by retention, or the task was published against another storage).`);
      }
      if (FINISHED_STATUSES.has(run.status)) {
        // Delivered again after a failure: what follows a run's end may not have happened.
        if (redelivered) await repairFinished(this.client, run, log);
        return;
      }
      const now = this.client.clock();
      if (run.status === 'pending' && run.startAt !== undefined && run.startAt > now) {
        await publishTask(this.client.broker, brokerQueue(run.queue), runTask(runId, 'start'), run.startAt - now, this.client.clock);
        return;
      }
      // The log is the truth: the run may have ended (terminated, say) between the two reads.
      if (log.some((e) => TERMINAL_EVENT_TYPES.has(e.type))) return;
      const def = this.workflows.get(run.workflow);
      if (!def) return this.unknown.handle(run, log, task);
      const events = log;
      if (run.status === 'pending' && def.concurrency && !events.some((e) => e.type === 'cancel_requested')) {
        if (!(await acquireConcurrency(this.client, run.runId, def, events[0]))) return;
      }
      execution = new Execution(run, def, this.executionDeps(run.queue, run.workflow));
      await execution.feed(events);
    }
    const live = execution;
    const state = this.active.get(runId);
    if (state) state.queue = live.run.queue;
    const scope = this.instrumentation.runExecution({
      runId,
      workflow: execution.workflowName,
      queue: execution.run.queue,
      workerId: this.workerId,
      createdAt: execution.run.createdAt,
      firstStart: execution.status === 'pending',
      replayedEvents: cached ? 0 : execution.seq,
      trace: execution.trace,
    });
    let outcome: RunExecutionOutcome = 'error';
    let failure: unknown;
    this.executing.set(runId, execution);
    const beatMs = Math.min(1000, Math.max(100, this.settings.staleAfterMs / 3));
    const heartbeat = setInterval(() => {
      // A lease renewal of a long step sets updatedAt too: then no separate touch is needed.
      if (!this.attempts.renewedWithin(runId, beatMs)) storage.touchRun(runId, this.client.clock()).catch(() => undefined);
      watchForCancel(this.client, live).catch(() => undefined);
    }, beatMs);
    heartbeat.unref();
    try {
      this.runTraces.set(runId, () => scope.trace() ?? live.trace);
      // A lost worker shows in the log as an attempt whose lease lapsed: the execution counts it.
      const result = await scope.wrap(() => live.advance({ redispatch: recover, checkDispatched: recover || timer }));
      if (result === 'finished') {
        outcome = live.status as RunExecutionOutcome;
        failure = live.failure;
        notifyRunFinished(storage, runId);
      } else if (result === 'owned') {
        outcome = 'superseded';
        this.logger.debug('run left to the worker running its step', { runId });
      } else {
        outcome = 'suspended';
        if (worthKeeping(execution, this.client.clock(), this.settings.localTimerWindowMs)) this.cache.put(runId, execution);
      }
    } catch (err) {
      outcome = err instanceof StaleExecutionError || this.handedBack ? 'superseded' : 'error';
      failure = err;
      throw err;
    } finally {
      clearInterval(heartbeat);
      this.executing.delete(runId);
      this.runTraces.delete(runId);
      notifyRunProgress(storage, runId); // an update's caller in this process reads the log now
      scope.end({ outcome, error: failure });
    }
  }

  private executionDeps(runQueue: string, workflow: string) {
    const storage = this.client.storage;
    return {
      storage,
      logger: this.logger,
      workerId: this.workerId,
      clock: this.client.clock,
      inlineRetryMaxMs: this.settings.inlineRetryMaxMs,
      stepLeaseMs: this.settings.stepLeaseMs,
      attempts: this.attempts,
      onTakeover: ({ runId, ...detail }: { runId: string; step: string; stepId: string; attempt: number; previousWorker: string; handedBack: boolean }) =>
        this.instrumentation.recovery({ kind: 'worker_lost', runId, detail: { workflow, ...detail } }),
      limits: this.client.limits,
      runsInline: (step: StepDefinition) =>
        this.settings.stepMode === 'inline' && (step.queue === undefined || step.queue === runQueue || this.settings.queues.includes(step.queue)),
      runAttempt: async (request: Parameters<typeof runStepAttempt>[0]) => {
        await waitForPermit(this.client, request.def, this.logger, this.stopController.signal);
        const checkpoints = checkpointsFor(this.client, request.runId, request.stepId);
        const heartbeats = heartbeatsFor(this.client, request.runId, request.stepId, this.logger, this.stopController.signal);
        const scope = this.instrumentation.stepAttempt({ runId: request.runId, workflow, stepId: request.stepId, step: request.def.name, attempt: request.attempt, maxAttempts: request.policy.maxAttempts, inline: true });
        const began = Date.now();
        const outcome = await scope.wrap(() => runStepAttempt(
          { ...request, def: this.withOverride(request.def) },
          {
            logger: this.logger.child({ workflow }),
            heartbeat: () => void storage.touchRun(request.runId, this.client.clock()).catch(() => undefined),
            signal: this.stopController.signal,
            checkpoints,
            heartbeats,
            hookOutcomes: request.hookOutcomes,
            extra: { client: this.client },
          },
        ));
        scope.end({ outcome: attemptOutcome(outcome, request.attempt, request.policy, { firstStartedAt: request.firstStartedAt, now: this.client.clock() }), durationMs: Date.now() - began, error: outcome.ok ? undefined : outcome.error });
        await cleanUpAttempt(outcome.ok, checkpoints, heartbeats);
        return outcome;
      },
      afterFlush: (effects: FlushEffects) => applyFlushEffects(this.client, effects, { workflow, trace: this.runTraces.get(effects.runId)?.(), local: this.local }),
    };
  }

  // ---- Dispatched steps ----

  /** `redelivered`: the broker delivers this task again (its previous consumer failed or died). */
  private async processStep(task: StepTask, redelivered: boolean): Promise<void> {
    await runStepTask(task, redelivered, {
      client: this.client,
      logger: this.logger,
      workerId: this.workerId,
      leaseMs: this.settings.stepLeaseMs,
      attempts: this.attempts,
      instrumentation: this.instrumentation,
      stopSignal: this.stopController.signal,
      handedBack: () => this.handedBack,
      definition: (name) => {
        const found = getStepDefinition(name);
        return found && this.withOverride(found);
      },
      waitForPermit: (def) => waitForPermit(this.client, def, this.logger, this.stopController.signal),
      checkpointsFor: (runId, stepId) => checkpointsFor(this.client, runId, stepId),
      track: (t, queue) => {
        const key = `${t.runId}:${t.stepId}`;
        if (queue === undefined) this.stepTasks.delete(key);
        else this.stepTasks.set(key, { task: t, queue });
      },
      continueRun: (t, tail) => this.continueRun(t, tail),
    });
  }

  /**
   * Advances the run of a dispatched step that just ended here, as its run task would (step-task.ts):
   * only when this worker has the workflow and listens on the run's queue (a worker the run task could
   * reach) and is not stopping. When the run is being advanced here already (the execution that
   * dispatched the step may still wait for the broker to confirm its task, which a fast step outruns),
   * that execution is told to look again, as a delivered run task would, and adopts the outcome then:
   * this waits for it a moment (CONTINUE_WAIT_MS), after which the step task records the outcome itself.
   * Otherwise a kept execution of the run takes `tail` (the log as the step's claim left it) as read.
   */
  private async continueRun(task: StepTask, tail: DurablyEvent[]): Promise<boolean> {
    if (!this.running || this.handedBack || !this.workflows.has(task.workflow ?? '') || !this.settings.queues.includes(task.workflowQueue)) return false;
    const live = this.active.get(task.runId);
    if (live) {
      live.again = true;
      await Promise.race([live.finished, delay(CONTINUE_WAIT_MS, undefined, { ref: false })]);
      return true;
    }
    this.cache.noteTail(task.runId, tail);
    try {
      await this.processRun(runTask(task.runId, 'step'));
    } finally {
      this.cache.dropTail(task.runId);
    }
    return true;
  }

  // ---- Sweeps (sweeps.ts) ----

  private sweepContext(): SweepContext {
    return {
      client: this.client,
      instrumentation: this.instrumentation,
      staleAfterMs: this.settings.staleAfterMs,
      timerGraceMs: this.settings.timerSweepGraceMs,
      queues: this.settings.queues,
      canRun: (workflow) => this.workflows.has(workflow),
      isActive: (runId) => this.active.has(runId),
    };
  }
}
