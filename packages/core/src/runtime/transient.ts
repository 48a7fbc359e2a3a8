import { randomUUID } from 'node:crypto';
import type { RunSource } from './host.js';
import { RunHandle } from './client/handle.js';
import { runInScope, type WorkflowRuntime } from '../engine/scope.js';
import type { StepDefinition, Workflow, WorkflowDefinition } from '../engine/definitions.js';
import {
  parseDuration,
  type Duration,
  CancelledError,
  DurableOnlyError,
  RunAlreadyFinishedError,
  StepFailedError,
  WorkflowFailedError,
  ResultTimeoutError,
  type DurablyEvent,
  type RunRecord,
  type RunStatus,
} from '@durably/contracts';
import { createLogger } from '../logger.js';
import { decideRetry, resolveRetryPolicy, totalTimeLeft } from '../engine/retry.js';
import { HeartbeatDetails } from '../engine/heartbeats.js';
import { runStepAttempt } from '../engine/step-runner.js';

/**
 * Transient mode (`durable: false`): the workflow runs in this process and nothing is written to
 * storage. Steps run inline with their retry policy, `sleep` is a real timer, context values are
 * plain values. Hooks, signals and child workflows need the log and throw DurableOnlyError.
 * For quick jobs where durability costs more than it gives: a crash loses the run.
 */
class TransientRuntime implements WorkflowRuntime {
  readonly transient = true;
  readonly logger = createLogger();
  private readonly controller = new AbortController();
  cancelled?: CancelledError;

  constructor(
    readonly runId: string,
    readonly def: WorkflowDefinition,
  ) {}

  get workflowName(): string {
    return this.def.name;
  }

  cancel(reason?: string): void {
    this.cancelled ??= new CancelledError(reason);
    this.controller.abort(this.cancelled);
  }

  private check(): void {
    if (this.cancelled) throw this.cancelled;
  }

  async callStep(def: StepDefinition, args: unknown[]): Promise<unknown> {
    this.check();
    const policy = resolveRetryPolicy(def.retry, this.def.stepRetry, `step("${def.name}")`);
    const firstStartedAt = Date.now();
    for (let attempt = 1; ; attempt++) {
      const outcome = await runStepAttempt(
        { runId: this.runId, stepId: `transient-${def.name}`, def, args, attempt, policy, signal: this.controller.signal, totalLeftMs: totalTimeLeft(policy, firstStartedAt, Date.now()) },
        { logger: this.logger, heartbeat: () => undefined, checkpoints: this.memoryCheckpoint(def.name), heartbeats: new HeartbeatDetails(this.memoryCheckpoint(`heartbeat:${def.name}`), this.logger, 0) },
      );
      this.check();
      if (outcome.ok) return outcome.value;
      const decision = decideRetry(outcome.error, attempt, policy, { firstStartedAt, now: Date.now() });
      if (!decision.retry) throw new StepFailedError(def.name, attempt, outcome.error);
      await this.wait(decision.delayMs);
    }
  }

  private readonly checkpointValues = new Map<string, unknown>();

  /** In transient mode checkpoints live in memory, for the retries of this process. */
  private memoryCheckpoint(key: string) {
    return {
      save: async (value: unknown) => void this.checkpointValues.set(key, value),
      load: async () => this.checkpointValues.get(key),
      delete: async () => void this.checkpointValues.delete(key),
    };
  }

  async sleep(duration: Duration | Date): Promise<void> {
    this.check();
    const ms = duration instanceof Date ? Math.max(0, duration.getTime() - Date.now()) : parseDuration(duration, 'sleep()');
    await this.wait(ms);
  }

  private wait(ms: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(resolve, ms);
      this.controller.signal.addEventListener('abort', () => {
        clearTimeout(timer);
        reject(this.cancelled);
      }, { once: true });
    });
  }

  recordValue<T>(_kind: 'now' | 'random' | 'uuid', produce: () => T): T {
    return produce();
  }

  private durableOnly(what: string): never {
    throw new DurableOnlyError(`${what} needs durable mode: it waits on the run's log, which a transient run (durable: false) does not keep. Start the run without durable: false.`);
  }

  createHook(): never {
    return this.durableOnly('A hook');
  }

  waitForSignal(): never {
    return this.durableOnly('waitForSignal()');
  }

  onSignal(): never {
    return this.durableOnly('onSignal()');
  }

  condition(): never {
    return this.durableOnly('condition()');
  }

  setUpdateHandler(): never {
    return this.durableOnly('An update handler');
  }

  startChild(): never {
    return this.durableOnly('startChild()');
  }

  openScope(): never {
    return this.durableOnly('cancellable() / withTimeout()');
  }

  cancelScope(): never {
    return this.durableOnly('cancellable() / withTimeout()');
  }

  /** Resolves when the transient run is cancelled (its steps' signals fire then too). */
  cancelRequested(): Promise<{ reason?: string }> {
    if (this.cancelled) return Promise.resolve({ reason: this.cancelled.reason });
    return new Promise((resolve) => this.controller.signal.addEventListener('abort', () => resolve({ reason: this.cancelled?.reason }), { once: true }));
  }

  patched(): boolean {
    return true;
  }

  /** A transient run has no record to index: setAttributes (checked by the caller) keeps nothing. */
  setAttributes(): void {}

  setQueryHandler(): void {}

  /** A transient run keeps no log, so its code never runs twice. */
  isReplaying(): boolean {
    return false;
  }
}

class TransientRunHandle<R> extends RunHandle<R> {
  private state: RunStatus = 'running';
  private readonly done: Promise<R>;
  private readonly createdAt = Date.now();
  private error?: unknown;

  constructor(
    client: RunSource,
    runId: string,
    private readonly runtime: TransientRuntime,
    promise: Promise<R>,
  ) {
    super(client, runId, { created: true });
    this.done = promise.then(
      (value) => {
        this.state = runtime.cancelled ? 'cancelled' : 'completed';
        if (runtime.cancelled) throw runtime.cancelled;
        return value;
      },
      (error) => {
        this.state = runtime.cancelled ? 'cancelled' : 'failed';
        this.error = error;
        throw runtime.cancelled ?? new WorkflowFailedError(runId, error);
      },
    );
    this.done.catch(() => undefined);
  }

  override async status(): Promise<RunStatus> {
    return this.state;
  }

  override async record(): Promise<RunRecord> {
    return { runId: this.runId, workflow: this.runtime.workflowName, status: this.state, queue: 'transient', args: '', createdAt: this.createdAt, updatedAt: Date.now(), lastSeq: 0, ...(this.error ? { error: { name: (this.error as Error).name, message: (this.error as Error).message } } : {}) };
  }

  override async result(options: { timeout?: Duration } = {}): Promise<R> {
    if (options.timeout === undefined) return this.done;
    const ms = parseDuration(options.timeout, 'result({ timeout })');
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([this.done, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new ResultTimeoutError(this.runId, ms, this.state)), ms)))]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** A transient run keeps no log. */
  override async events(): Promise<DurablyEvent[]> {
    return [];
  }

  override async cancel(reason?: string): Promise<void> {
    if (this.state !== 'running') throw new RunAlreadyFinishedError(this.runId, this.state);
    this.runtime.cancel(reason);
  }
}

export function startTransient<A extends unknown[], R>(client: RunSource, wf: Workflow<A, R>, args: A, runId: string = randomUUID()): Promise<RunHandle<Awaited<R>>> {
  const runtime = new TransientRuntime(runId, wf.definition);
  const promise = runInScope({ kind: 'workflow', execution: runtime }, () => Promise.resolve().then(() => wf.definition.fn(...args)));
  return Promise.resolve(new TransientRunHandle(client, runId, runtime, promise as Promise<Awaited<R>>));
}
