import { AsyncLocalStorage } from 'node:async_hooks';
import { type Duration, NotInWorkflowError, type Logger, type ParentClosePolicy } from '@durably/contracts';
import type { StepDefinition, WorkflowDefinition } from './definitions.js';

/** What a workflow execution offers to the durable calls made inside it (implemented by Execution). */
export interface WorkflowRuntime {
  readonly runId: string;
  /** True for a transient run (durable: false), which keeps no log. */
  readonly transient?: boolean;
  readonly workflowName: string;
  /** From run_created, for runs started by a schedule. */
  readonly scheduled?: { at: number; scheduleId?: string };
  callStep(definition: StepDefinition, args: unknown[]): Promise<unknown>;
  sleep(duration: Duration | Date): Promise<void>;
  recordValue<T>(kind: 'now' | 'random' | 'uuid', produce: () => T): T;
  createHook(name: string, timeoutMs?: number): { token: string; promise: Promise<unknown> };
  waitForSignal(name: string, timeoutMs?: number): Promise<unknown>;
  patched(patchId: string): boolean;
  setQueryHandler(name: string, handler: () => unknown): void;
  startChild(def: WorkflowDefinition, args: unknown[], options: { parentClosePolicy: ParentClosePolicy; queue?: string }): Promise<{ runId: string; result: Promise<unknown> }>;
  readonly logger: Logger;
}

/** The context a step body sees through `context()`. */
export interface StepContext {
  readonly kind: 'step';
  readonly runId: string;
  /** The step call's position in the run, stable across attempts and replays. */
  readonly stepId: string;
  readonly stepName: string;
  /** 1 on the first attempt. */
  readonly attempt: number;
  /** Stable for this step call across attempts and workers: pass it to external APIs to de-duplicate. */
  readonly idempotencyKey: string;
  readonly logger: Logger;
  /** Tells the engine the step is alive; long steps call it so recovery does not treat the run as stuck. */
  heartbeat(): void;
  /** Fired when the attempt times out or the run is cancelled. */
  readonly signal: AbortSignal;
  /** Payloads (or timeouts) of this step's hooks so far (see `stepHook`); absent outside a worker. */
  readonly hookOutcomes?: import('./step-hooks.js').StepHookOutcomes;
  /** @internal Set by stepHook when it suspends the step, even if the body catches what it throws. */
  readonly suspension?: { current?: import('./step-hooks.js').StepSuspended };
  /** @internal The worker's client (streams use it to reach other runs); absent outside a worker. */
  readonly client?: import('./client/client.js').Client;
  /** The step's checkpoint (see `checkpoint`); absent outside a worker. */
  readonly checkpoints?: import('./checkpoint.js').CheckpointStore;
}

/** The context a workflow sees through `context()`: deterministic values recorded in the log. */
export interface WorkflowContext {
  readonly kind: 'workflow';
  readonly runId: string;
  readonly workflowName: string;
  /** The current time, recorded on first execution and returned unchanged by every replay. */
  now(): Date;
  /** A random number in [0, 1), recorded. */
  random(): number;
  /** A random UUID, recorded. */
  uuid(): string;
  /** For a run started by a schedule (or a backfill): the slot it was started for. */
  readonly scheduledAt?: Date;
  readonly scheduleId?: string;
  readonly logger: Logger;
}

export type Scope = { kind: 'workflow'; execution: WorkflowRuntime; shielded?: boolean } | { kind: 'step'; context: StepContext };

const storage = new AsyncLocalStorage<Scope>();

export function currentScope(): Scope | undefined {
  return storage.getStore();
}

export function runInScope<T>(scope: Scope | undefined, fn: () => T): T {
  return scope === undefined ? storage.exit(fn) : storage.run(scope, fn);
}

/**
 * Inside a workflow: the run id and deterministic `now()`, `random()`, `uuid()`.
 * Inside a step: run id, step id, attempt, idempotency key, logger, heartbeat and abort signal.
 */
export function context(): WorkflowContext | StepContext;
export function context(): WorkflowContext | StepContext {
  const scope = storage.getStore();
  if (!scope) {
    throw new NotInWorkflowError('context() was called outside a workflow or step. Call it inside a workflow(...) or step(...) function body.');
  }
  if (scope.kind === 'step') return scope.context;
  const ex = scope.execution;
  return {
    kind: 'workflow',
    runId: ex.runId,
    workflowName: ex.workflowName,
    now: () => new Date(ex.recordValue('now', () => Date.now())),
    random: () => ex.recordValue('random', () => Math.random()),
    uuid: () => ex.recordValue('uuid', () => crypto.randomUUID()),
    ...(ex.scheduled ? { scheduledAt: new Date(ex.scheduled.at), scheduleId: ex.scheduled.scheduleId } : {}),
    logger: ex.logger,
  };
}

/**
 * Inside a workflow only: the workflow context (deterministic `now()`, `random()`, `uuid()`, the
 * run id, the schedule slot), typed as such. Throws elsewhere. `context()` returns the same object,
 * typed as the union of the workflow and the step context.
 */
export function workflowContext(): WorkflowContext {
  const scope = storage.getStore();
  if (scope?.kind !== 'workflow') throw new NotInWorkflowError('workflowContext() was called outside a workflow. Call it inside a workflow(...) function body (in a step, use stepContext()).');
  return context() as WorkflowContext;
}

/** Inside a step only: the step context. Throws elsewhere. */
export function stepContext(): StepContext {
  const scope = storage.getStore();
  if (scope?.kind !== 'step') throw new NotInWorkflowError('stepContext() was called outside a step. Call it inside a step(...) function body.');
  return scope.context;
}

/**
 * Durable sleep: `sleep('1d')`, `sleep(86_400_000)`, `sleep(new Date(...))`. Inside a workflow the
 * run suspends and holds nothing until the time comes; outside one it is a plain timer.
 */
export function sleep(duration: Duration | Date): Promise<void> {
  const scope = storage.getStore();
  if (scope?.kind === 'workflow') return scope.execution.sleep(duration);
  return plainSleep(duration);
}

async function plainSleep(duration: Duration | Date): Promise<void> {
  const { parseDuration } = await import('@durably/contracts');
  const ms = duration instanceof Date ? Math.max(0, duration.getTime() - Date.now()) : parseDuration(duration, 'sleep()');
  await new Promise<void>((resolve) => setTimeout(resolve, ms));
}
