import { hostname } from 'node:os';
import { setMaxListeners } from 'node:events';
import { randomUUID } from 'node:crypto';
import {
  type Delivery,
  type Subscription,
  checkQueue,
  parseDuration,
  type Duration,
  AppendConflictError,
  CancelledError,
  DuplicateNameError,
  DurablyError,
  InvalidArgumentError,
  makeEvent,
  TERMINAL_EVENT_TYPES,
  type DurablyEvent,
  type EventDataMap,
  type ParentClosePolicy,
  type Logger,
  deserialize,
  errorToObject,
  serialize,
  FINISHED_STATUSES,
  type RunRecord,
  type Timer,
  deadLetterReason,
} from '@durably/contracts';
import type { Client } from '../client/client.js';
import { notifyRunFinished } from '../client/notify.js';
import { getStepDefinition, isWorkflow, type StepDefinition, type Workflow, type WorkflowDefinition } from '../definitions.js';
import { createLogger, toLogger, type PinoLike } from '../logger.js';
import { Execution, StaleExecutionError, type FlushEffects } from '../replay/execution.js';
import type { Command } from '../replay/commands.js';
import { brokerQueue, decodeTask, type RunTask, type StepTask } from './messages.js';
import { publishTask } from './publish.js';
import { runStepAttempt } from './step-runner.js';
import { runStepTask } from './step-task.js';
import { ExecutionCache } from './cache.js';
import type { CheckpointStore } from '../checkpoint.js';
import { Scheduler } from '../schedules.js';
import { streamWorkflow } from '../streams.js';
import { LocalTimers, type LocalTimer } from './local-timers.js';
import { combineInstrumentation, type CombinedInstrumentation, type Instrumentation, type RunExecutionOutcome, type StepAttemptOutcome } from '../observe/instrumentation.js';
import { logInstrumentation } from '../observe/log-instrumentation.js';
import { otelInstrumentation } from '../observe/otel.js';
import { traceOf } from '../observe/trace-context.js';
import type { HttpOptions, WorkerConfig } from '../config/types.js';
import { MAX_DELIVERIES, deriveSettings, type Settings } from './settings.js';
import { attemptOutcome, describeInstance, runIdOf, startOperations } from './observability.js';
import { AttemptRegistry } from './attempts.js';
import { installSignalHandlers, type StopOnSignalsOptions } from './shutdown.js';
import { UnknownWorkflows } from './unknown-workflows.js';
import { openClaim } from '../replay/claims.js';


/** How long a sweep's claim on an overdue timer holds before another sweep may wake its run again. */
const OVERDUE_TIMER_CLAIM_MS = 10_000;

export interface WorkerOptions {
  /** The workflows this worker runs. */
  workflows: Workflow<any[], any>[];
  /** Client (storage + broker) to work on. Default: the default client (configure() or the embedded default). */
  client?: Client;
  /** Most tasks (runs and dispatched steps) handled at once per queue. Default 10. */
  concurrency?: number;
  /** Queues to consume. Default ["default"]. Steps with another `queue` are dispatched to workers on it. */
  queues?: string[];
  /**
   * "inline" (default): steps run in the workflow's worker, one storage write per step.
   * "dispatch": every step is a broker task, spreading steps over all workers.
   */
  stepMode?: 'inline' | 'dispatch';
  /** Broker visibility timeout: a dead worker's task comes back after this. Default 30s. */
  visibilityTimeout?: Duration;
  /**
   * Lease of a running step attempt. The worker renews it while the body runs (every third of it, at
   * most every second); another worker that finds the attempt under a live lease leaves it alone,
   * and once it lapses (the worker died) the run is taken over, the attempt run again. So a run whose
   * worker was killed mid-step resumes about `stepLease` + 3 s after the kill. A step body that blocks
   * the event loop for longer than this may be run a second time elsewhere. Default 5s.
   */
  stepLease?: Duration;
  /** A pending or running run with no progress for this long is resumed elsewhere. Default 60s. */
  staleAfter?: Duration;
  /** How often to look for stuck runs. Default 10s. */
  recoveryInterval?: Duration;
  /** How often to look in storage for overdue timers whose wake-up message was lost. Default 1s. */
  timerSweepInterval?: Duration;
  /**
   * Timers (sleeps, timeouts) due within this window are fired by this worker itself at their time,
   * without a broker round trip; later ones get a delayed broker message. Either way the timer in
   * storage is the truth: if this worker dies, the timer sweep wakes the run. 0 turns it off. Default 60s.
   */
  localTimerWindow?: Duration;
  /** Retry delays up to this are waited in-process; longer ones suspend the run. Default 5s. */
  inlineRetryMax?: Duration;
  /** Executions kept in memory while they wait on dispatched steps. Default 1,000. */
  cacheSize?: number;
  /** A Logger, or a pino instance as it is (every field is kept). Default: createLogger(). */
  logger?: Logger | PinoLike;
  /** Your own hooks on runs, step attempts, dead letters and recoveries (besides logs, metrics and spans). */
  instrumentation?: Instrumentation;
  /** Opt-in operations endpoint: GET /healthz, /readyz and /metrics (Prometheus) on this port. */
  http?: HttpOptions;
  workerId?: string;
  /** Run the scheduler in this worker (fires due schedule slots). Default true. */
  scheduler?: boolean;
  /** How often the scheduler looks for due slots. Default 1s. */
  scheduleInterval?: Duration;
  /** Delete finished runs older than this (checked every recoveryInterval). Default: keep forever. */
  retention?: Duration;
  /** Replaces step bodies by step name (for tests: see createTestEnv's mockStep). */
  stepOverrides?: Map<string, (...args: any[]) => unknown>;
}

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
  private readonly active = new Map<string, { again: boolean; recover: boolean; redelivered?: boolean; timer?: boolean }>();
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
    // Stream runs (defineStream) are runs of one built-in workflow: every worker can run them.
    const stream = this.workflows.get(streamWorkflow.definition.name);
    if (stream && stream !== streamWorkflow.definition) throw new DuplicateNameError('workflow', streamWorkflow.definition.name, undefined, undefined, 'createWorker()');
    this.workflows.set(streamWorkflow.definition.name, streamWorkflow.definition);
    this.settings = deriveSettings(options);
    this.localTimers = new LocalTimers(() => client.clock(), (due) => this.fireLocalTimers(due));
    this.workerId = options.workerId ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.logger = toLogger(options.logger ?? createLogger()).child({ workerId: this.workerId });
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
  private readonly runTraces = new Map<string, () => import('../observe/instrumentation.js').TraceContext | undefined>();

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
  private readonly localTimers: LocalTimers;
  private localWakes = 0;

  /** Local timers that fell due, waiting for a free slot (earliest first). */
  private readonly localDue: LocalTimer[] = [];

  /**
   * Local timers fell due: advance their runs here, as a delivered task would, at most `concurrency`
   * at once (a burst waits here, in due order, rather than taking the slower way through the broker).
   */
  private fireLocalTimers(due: LocalTimer[]): void {
    this.localDue.push(...due);
    this.pumpLocalTimers();
  }

  private pumpLocalTimers(): void {
    while (this.localDue.length > 0 && this.localWakes < this.settings.concurrency) {
      const t = this.localDue.shift()!;
      if (!this.running) {
        // Stopping: the broker takes it (stop() also hands over what is still queued here).
        void publishTask(this.client.broker, brokerQueue(t.queue), { v: 1, kind: 'run', runId: t.runId, reason: 'timer' }, 0, this.client.clock).catch(() => undefined);
        continue;
      }
      const task: RunTask = { v: 1, kind: 'run', runId: t.runId, reason: 'timer' };
      this.localWakes++;
      this.handling++;
      void this.processRun(task)
        .catch((err) => {
          // Storage away (a restart, say): try again here shortly. The timer in storage stays, so
          // the sweep of any worker wakes the run even if this process dies meanwhile.
          this.logger.debug('local wake-up failed; retrying shortly', { runId: t.runId, error: String(err) });
          if (this.running) this.localTimers.add({ ...t, fireAt: this.client.clock() + 500 });
        })
        .finally(() => {
          this.localWakes--;
          this.handling--;
          this.pumpLocalTimers();
        });
    }
  }

  /** Advances runs in this worker, a few at a time, as delivered tasks would be; one that fails goes to the broker. */
  private async runHere(runIds: string[]): Promise<void> {
    let next = 0;
    const lane = async () => {
      while (next < runIds.length && this.running) {
        const task: RunTask = { v: 1, kind: 'run', runId: runIds[next++], reason: 'start' };
        this.handling++;
        try {
          await this.processRun(task);
        } catch (err) {
          this.logger.debug('starting a waiting run here failed; it goes to the broker', { runId: task.runId, error: String(err) });
          const run = await this.client.storage.getRun(task.runId).catch(() => undefined);
          if (run) await publishTask(this.client.broker, brokerQueue(run.queue), task, 0, this.client.clock).catch(() => undefined);
        } finally {
          this.handling--;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(4, this.settings.concurrency) }, lane));
  }

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
      .then((runIds) => this.runHere(runIds))
      .catch((err) => this.logger.error('looking for runs waiting for this worker failed', { error: String(err) }));
    let renewing = false;
    this.leaseTimer = setInterval(() => {
      if (renewing) return;
      renewing = true;
      void this.attempts.renew().finally(() => (renewing = false));
    }, Math.max(50, Math.min(1000, Math.floor(this.settings.stepLeaseMs / 3))));
    this.every(this.settings.timerSweepIntervalMs, () => this.sweepTimers());
    this.every(this.settings.recoveryIntervalMs, () => this.sweepStuckRuns());
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
    // Wake-ups held here go to the broker, so another worker fires them on time.
    const now = this.client.clock();
    await Promise.allSettled(
      [...this.localDue.splice(0), ...this.localTimers.drain()].map((t) => publishTask(this.client.broker, brokerQueue(t.queue), { v: 1, kind: 'run', runId: t.runId, reason: 'timer' }, Math.max(0, t.fireAt - now), this.client.clock)),
    );
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
      ...runs.map((ex) => publishTask(this.client.broker, brokerQueue(ex.run.queue), { v: 1, kind: 'run', runId: ex.runId, reason: 'recover' }, 0, this.client.clock)),
      ...steps.map(({ task, queue }) => publishTask(this.client.broker, queue, { ...task, notBefore: undefined }, 0, this.client.clock)),
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
      // Delivered early because the broker caps delays: wait out the rest on the broker.
      await publishTask(this.client.broker, delivery.queue, { ...task, notBefore: undefined }, task.notBefore - now, this.client.clock);
      return;
    }
    if (task.kind === 'run') await this.processRun(task, delivery.deliveryCount > 1);
    else await this.processStep(task);
  }

  // ---- Runs ----

  /** `redelivered`: the broker delivers this task again (its previous consumer failed or died). */
  private async processRun(task: RunTask, redelivered = false): Promise<void> {
    const state = this.active.get(task.runId);
    if (state) {
      // Already advancing here: make it look again when done instead of replaying in parallel, and
      // let the live execution look at its due times now (a timer's wake-up may be why this came).
      state.again = true;
      state.recover ||= task.reason === 'recover';
      state.timer ||= task.reason === 'timer';
      this.executing.get(task.runId)?.poke();
      return;
    }
    const mine = { again: true, recover: task.reason === 'recover' || redelivered, redelivered, timer: task.reason === 'timer' };
    this.active.set(task.runId, mine);
    try {
      let stale = 0;
      while (mine.again) {
        mine.again = false;
        const recover = mine.recover;
        const redelivery = mine.redelivered === true;
        const timer = mine.timer === true;
        mine.recover = false;
        mine.redelivered = false;
        mine.timer = false;
        try {
          await this.advanceRun(task, recover, redelivery, timer);
        } catch (err) {
          this.cache.delete(task.runId);
          if (this.handedBack) return; // published again for another worker
          if (!(err instanceof StaleExecutionError)) throw err;
          // Another writer moved the run on; replay from storage and continue from there.
          if (++stale > 10) throw err;
          mine.again = true;
          mine.timer ||= timer;
        }
      }
    } finally {
      this.active.delete(task.runId);
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
      const tail = await storage.readEvents(runId, execution.seq + 1);
      if (tail.some((e) => TERMINAL_EVENT_TYPES.has(e.type))) return;
      await execution.feed(tail);
    } else {
      // Both reads at once: one round trip (Redis pipelines them; Postgres runs them side by side).
      // An append landing between them is harmless: the next append is fenced by the log.
      const [run, log] = await Promise.all([storage.getRun(runId), storage.readEvents(runId)]);
      if (!run) {
        this.logger.warn('task for an unknown run ignored', { runId });
        return;
      }
      if (FINISHED_STATUSES.has(run.status)) {
        // Delivered again after a failure: what follows a run's end may not have happened.
        if (redelivered) await this.repairFinished(run, log);
        return;
      }
      const now = this.client.clock();
      if (run.status === 'pending' && run.startAt !== undefined && run.startAt > now) {
        await publishTask(this.client.broker, brokerQueue(run.queue), { v: 1, kind: 'run', runId, reason: 'start' }, run.startAt - now, this.client.clock);
        return;
      }
      // The log is the truth: the run may have ended (terminated, say) between the two reads.
      if (log.some((e) => TERMINAL_EVENT_TYPES.has(e.type))) return;
      const def = this.workflows.get(run.workflow);
      if (!def) return this.unknown.handle(run, log, task);
      const events = log;
      if (run.status === 'pending' && def.concurrency && !events.some((e) => e.type === 'cancel_requested')) {
        if (!(await this.acquireConcurrency(run.runId, def, events[0]))) return;
      }
      execution = new Execution(run, def, this.executionDeps(run.queue, run.workflow));
      await execution.feed(events);
    }
    const live = execution;
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
      this.watchForCancel(live).catch(() => undefined);
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
        if (execution.waitingOnDispatched) this.cache.put(runId, execution);
      }
    } catch (err) {
      outcome = err instanceof StaleExecutionError || this.handedBack ? 'superseded' : 'error';
      failure = err;
      throw err;
    } finally {
      clearInterval(heartbeat);
      this.executing.delete(runId);
      this.runTraces.delete(runId);
      scope.end({ outcome, error: failure });
    }
  }

  /**
   * A run of a workflow with a concurrency limit starts only with a slot; without one it stays pending
   * and looks again shortly (the run, not the worker, holds the slot until it ends).
   */
  private async acquireConcurrency(runId: string, def: WorkflowDefinition, first: DurablyEvent | undefined): Promise<boolean> {
    const { limit, key } = def.concurrency!;
    const args = first?.type === 'run_created' ? deserialize<unknown[]>(first.data.args) : [];
    let group: string;
    try {
      group = key ? String(key(...args)) : '*';
    } catch (err) {
      group = `invalid:${(err as Error).message}`;
    }
    if (await this.client.storage.acquireSlot(`${def.name}:${group}`, runId, limit)) return true;
    const now = this.client.clock();
    await this.client.storage.touchRun(runId, now); // waiting is not being stuck
    const run = await this.client.storage.getRun(runId);
    await publishTask(this.client.broker, brokerQueue(run!.queue), { v: 1, kind: 'run', runId, reason: 'start' }, 100 + Math.random() * 200, this.client.clock, `slot:${runId}`);
    return false;
  }

  /** A step's checkpoint in storage; `used` tells whether the attempt touched it (then it is deleted on success). */
  private checkpointsFor(runId: string, stepId: string): CheckpointStore & { used: boolean } {
    const storage = this.client.storage;
    const cp = {
      used: false,
      save: async (value: unknown) => {
        cp.used = true;
        await storage.putCheckpoint(runId, stepId, serialize(value, 'a step checkpoint'));
      },
      load: async () => {
        cp.used = true;
        const raw = await storage.getCheckpoint(runId, stepId);
        return raw === undefined ? undefined : deserialize(raw);
      },
      delete: async () => {
        await storage.deleteCheckpoint(runId, stepId);
      },
    };
    return cp;
  }

  /** Rate-limited steps wait for a permit before each attempt. */
  private async waitForPermit(def: StepDefinition): Promise<void> {
    const rate = def.rateLimit;
    if (!rate) return;
    for (;;) {
      const wait = await this.client.storage.takePermit(`rate:${rate.key}`, rate.limit, rate.periodMs, this.client.clock());
      if (wait <= 0) return;
      await new Promise((r) => setTimeout(r, Math.min(wait, rate.periodMs) + Math.random() * 5));
    }
  }

  /** While steps run, a cancel recorded by a client aborts their signals at once. */
  private async watchForCancel(execution: Execution): Promise<void> {
    const run = await this.client.storage.getRun(execution.runId);
    if (!run || run.lastSeq <= execution.seq) return;
    const tail = await this.client.storage.readEvents(execution.runId, execution.seq + 1);
    const cancel = tail.find((e) => e.type === 'cancel_requested');
    if (cancel) execution.abortInflight((cancel.data as { reason?: string }).reason);
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
        await this.waitForPermit(request.def);
        const checkpoints = this.checkpointsFor(request.runId, request.stepId);
        const scope = this.instrumentation.stepAttempt({ runId: request.runId, workflow, stepId: request.stepId, step: request.def.name, attempt: request.attempt, maxAttempts: request.policy.maxAttempts, inline: true });
        const began = Date.now();
        const outcome = await scope.wrap(() => runStepAttempt(
          { ...request, def: this.withOverride(request.def) },
          {
            logger: this.logger.child({ workflow }),
            heartbeat: () => void storage.touchRun(request.runId, this.client.clock()).catch(() => undefined),
            signal: this.stopController.signal,
            checkpoints,
            hookOutcomes: request.hookOutcomes,
            client: this.client,
          },
        ));
        scope.end({ outcome: attemptOutcome(outcome, request.attempt, request.policy.maxAttempts), durationMs: Date.now() - began, error: outcome.ok ? undefined : outcome.error });
        if (outcome.ok && checkpoints.used) await checkpoints.delete().catch(() => undefined);
        return outcome;
      },
      afterFlush: (effects: FlushEffects) => this.afterFlush(effects),
    };
  }

  /** Publishes and appends what a durable batch of a run leads to, outside that run's log. */
  private async afterFlush(effects: FlushEffects): Promise<void> {
    const now = this.client.clock();
    const broker = this.client.broker;
    await Promise.all([
      ...effects.startRuns.map((r) => publishTask(broker, brokerQueue(r.queue), { v: 1, kind: 'run', runId: r.runId, reason: 'start' }, 0, this.client.clock)),
      ...effects.dispatched.map((cmd) => this.dispatchStep(effects.queue, effects.runId, cmd)),
      ...effects.timers.map((t) => {
        if (this.running && t.fireAt - now <= this.settings.localTimerWindowMs) {
          this.localTimers.add({ runId: t.runId, queue: effects.queue, fireAt: t.fireAt });
          return undefined;
        }
        return publishTask(broker, brokerQueue(effects.queue), { v: 1, kind: 'run', runId: t.runId, reason: 'timer' }, t.fireAt - now, this.client.clock);
      }),
    ]);
    for (const child of effects.closeChildren) await this.closeChild(child.runId, child.policy);
    if (effects.notifyParent) await this.notifyParent(effects.notifyParent);
  }

  /** The parent ended first: end the child at once ("terminate") or ask it to cancel ("request_cancel"). */
  private async closeChild(runId: string, policy: ParentClosePolicy): Promise<void> {
    const reason = 'the parent run ended';
    if (policy === 'terminate') {
      await this.terminateChild(runId, 1);
    } else if (policy === 'request_cancel') {
      const done = await this.client.appendExternal(runId, 'cancel_requested', { reason });
      if (done.ok) await publishTask(this.client.broker, brokerQueue(done.queue), { v: 1, kind: 'run', runId, reason: 'cancel' }, 0, this.client.clock);
    }
  }

  /**
   * What follows a run's final append — telling its parent, closing its children — runs once after
   * that append; if it failed (storage away at that moment), the task is delivered again and lands
   * here. Each effect is checked against the other run's log before it is redone, so doing it twice
   * is harmless. (Starts of continuations, dispatched steps and timers have their own sweeps.)
   */
  private async repairFinished(run: RunRecord, log: DurablyEvent[]): Promise<void> {
    const first = log[0];
    const end = log.findLast((e) => TERMINAL_EVENT_TYPES.has(e.type));
    if (first?.type !== 'run_created' || !end || end.type === 'run_continued') return;
    const parent = first.data.parent;
    if (parent) {
      const error = end.type === 'run_cancelled' ? errorToObject(new CancelledError(end.data.reason)) : run.error;
      const event =
        run.status === 'completed'
          ? { type: 'child_completed' as const, data: { childRunId: run.runId, result: run.result! } }
          : { type: 'child_failed' as const, data: { childRunId: run.runId, error: error ?? errorToObject(new DurablyError(`child run ${run.runId} ended as ${run.status}`)) } };
      await this.appendOnce(parent.runId, parent.correlationId, event, (e) => (e.type === 'child_completed' || e.type === 'child_failed') && e.correlationId === parent.correlationId, 'step');
    }
    await this.closeChildrenOf(log);
  }

  /**
   * Applies the parent-close policy to the children still running of a run that ended, read from its
   * log. Repeating it is harmless: finished children are skipped and a cancel request is sent once.
   */
  private async closeChildrenOf(log: DurablyEvent[], depth = 0): Promise<void> {
    const settled = new Set(log.flatMap((e) => (e.type === 'child_completed' || e.type === 'child_failed' ? [e.data.childRunId] : [])));
    for (const e of log) {
      if (e.type !== 'child_started' || e.data.parentClosePolicy === 'abandon' || settled.has(e.data.childRunId)) continue;
      if (e.data.parentClosePolicy === 'terminate') {
        await this.terminateChild(e.data.childRunId, depth + 1);
      } else {
        await this.appendOnce(e.data.childRunId, undefined, { type: 'cancel_requested', data: { reason: 'the parent run ended' } }, (x) => x.type === 'cancel_requested', 'cancel');
      }
    }
  }

  /**
   * Ends a child at once (parent-close policy "terminate"). No code of the child runs, so its own
   * children are closed here, by their policies, down the tree.
   */
  private async terminateChild(runId: string, depth: number): Promise<void> {
    const now = this.client.clock();
    const reason = 'the parent run ended';
    const done = await this.client.appendExternal(runId, 'run_cancelled', { reason }, { run: { status: 'cancelled', error: errorToObject(new CancelledError(reason)), finishedAt: now }, releaseSlots: true });
    if (done.ok) notifyRunFinished(this.client.storage, runId);
    if (depth < 100) await this.closeChildrenOf(await this.client.storage.readEvents(runId), depth);
  }

  /**
   * Appends `event` to another run unless its log already has one that `exists` matches (re-checked
   * after every lost race), then wakes that run. Nothing happens if the run is gone or finished.
   */
  private async appendOnce<K extends keyof EventDataMap>(
    runId: string,
    correlationId: string | undefined,
    event: { type: K; data: EventDataMap[K] },
    exists: (e: DurablyEvent) => boolean,
    reason: RunTask['reason'],
  ): Promise<void> {
    const storage = this.client.storage;
    for (let attempt = 0; attempt < 50; attempt++) {
      const target = await storage.getRun(runId);
      if (!target || FINISHED_STATUSES.has(target.status)) return;
      const events = await storage.readEvents(runId);
      if (events.some(exists)) return;
      const lastSeq = events.at(-1)?.seq ?? target.lastSeq;
      try {
        await storage.append({ runId, expectedSeq: lastSeq, events: [makeEvent(runId, lastSeq + 1, event.type, event.data as never, correlationId, this.client.clock()) as DurablyEvent] });
      } catch (err) {
        if (err instanceof AppendConflictError) continue;
        throw err;
      }
      await publishTask(this.client.broker, brokerQueue(target.queue), { v: 1, kind: 'run', runId, reason }, 0, this.client.clock);
      return;
    }
  }

  /** A child ended: record its outcome in the parent's log (unless the parent ended) and wake the parent. */
  private async notifyParent(notice: NonNullable<FlushEffects['notifyParent']>): Promise<void> {
    const done = await this.client.appendExternal(notice.parentRunId, notice.event.type, notice.event.data as never, { correlationId: notice.correlationId });
    if (done.ok) await publishTask(this.client.broker, brokerQueue(done.queue), { v: 1, kind: 'run', runId: notice.parentRunId, reason: 'step' }, 0, this.client.clock);
  }

  private async dispatchStep(runQueue: string, runId: string, cmd: Command): Promise<void> {
    const stepDef = cmd.def!;
    const task: StepTask = {
      v: 1,
      kind: 'step',
      runId,
      stepId: cmd.id,
      name: stepDef.name,
      args: serialize(cmd.args, `the arguments of step "${stepDef.name}"`),
      policy: cmd.policy!,
      scheduledSeq: cmd.scheduledSeq ?? 1,
      workflowQueue: runQueue,
    };
    const trace = this.runTraces.get(runId)?.();
    if (trace) Object.assign(task, trace);
    const delay = Math.max(0, (cmd.retryAt ?? 0) - this.client.clock());
    await publishTask(this.client.broker, brokerQueue(stepDef.queue ?? runQueue), task, delay, this.client.clock, `${runId}:${cmd.id}:${cmd.attempts + 1}`);
  }

  // ---- Dispatched steps ----

  private async processStep(task: StepTask): Promise<void> {
    await runStepTask(task, {
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
      waitForPermit: (def) => this.waitForPermit(def),
      checkpointsFor: (runId, stepId) => this.checkpointsFor(runId, stepId),
      track: (t, queue) => {
        const key = `${t.runId}:${t.stepId}`;
        if (queue === undefined) this.stepTasks.delete(key);
        else this.stepTasks.set(key, { task: t, queue });
      },
    });
  }

  // ---- Sweeps ----

  /** Publishes wake-ups for timers overdue by more than a grace period (their message was lost or late). */
  private async sweepTimers(): Promise<void> {
    const now = this.client.clock();
    const graceMs = 2000;
    // The claim keeps other sweeps from waking the run again while this wake-up is handled. It is not
    // tied to the broker's visibility timeout: a wake-up can be swallowed by a consumer that is dying
    // (SQS answers a long poll whose client is gone, and that message stays invisible for the whole
    // visibility timeout), so a timer still overdue is woken again after 12 s, duplicates being harmless.
    const timers = await this.client.storage.claimDueTimers(now - graceMs, { limit: 100, leaseMs: OVERDUE_TIMER_CLAIM_MS + graceMs });
    for (const timer of timers) {
      const run = await this.client.storage.getRun(timer.runId);
      // Left behind by a run that ended, or the lease of an attempt that already ended (a renewal that
      // raced its outcome): delete it (an empty append that only clears the timer). A lapsed lease of
      // an attempt in flight wakes the run, whose worker takes the attempt over.
      const stray =
        run !== undefined &&
        (FINISHED_STATUSES.has(run.status) || (timer.timerId.startsWith('lease:') && !openClaim(await this.client.storage.readEvents(run.runId), timer.timerId.slice('lease:'.length))));
      if (stray) {
        await this.client.storage.append({ runId: run.runId, expectedSeq: run.lastSeq, events: [], clearTimers: [timer.timerId] }).catch(() => undefined);
        continue;
      }
      // The claim took the timer from every worker's sweep: wake the run on its own queue even when
      // this worker does not listen on it, or the run would wait for the claim to run out.
      if (!run) continue;
      this.instrumentation.recovery({ kind: 'overdue_timer', runId: timer.runId, detail: { timerId: timer.timerId, lateMs: now - timer.fireAt } });
      await publishTask(this.client.broker, brokerQueue(run.queue), { v: 1, kind: 'run', runId: timer.runId, reason: 'timer' }, 0, this.client.clock);
    }
  }

  /**
   * Finds runs left pending or running by a dead process and republishes them: only runs this worker
   * can run (its queues, its workflows), so a run that waits for a worker with its workflow is not
   * sent round between workers that do not have it. It pages on past the runs it skips, and resumes
   * at most 100 per sweep.
   */
  private async sweepStuckRuns(): Promise<void> {
    const now = this.client.clock();
    let cursor: string | undefined;
    let resumed = 0;
    for (let pages = 0; pages < 10 && resumed < 100; pages++) {
      const page = await this.client.storage.listRuns({ status: ['pending', 'running'], updatedBefore: now - this.settings.staleAfterMs, limit: 100, cursor });
      for (const run of page.runs) {
        if (run.startAt !== undefined && run.startAt > now) continue;
        if (!this.settings.queues.includes(run.queue) || !this.workflows.has(run.workflow) || this.active.has(run.runId) || resumed >= 100) continue;
        resumed++;
        // Touch first so that other workers' sweeps leave it alone for another stale period.
        await this.client.storage.touchRun(run.runId, now);
        this.instrumentation.recovery({ kind: 'stale_run', runId: run.runId, detail: { workflow: run.workflow, status: run.status, idleMs: now - run.updatedAt } });
        await publishTask(this.client.broker, brokerQueue(run.queue), { v: 1, kind: 'run', runId: run.runId, reason: 'recover' }, 0, this.client.clock);
      }
      if (!page.nextCursor) return;
      cursor = page.nextCursor;
    }
  }
}
