import { AsyncLocalStorage } from 'node:async_hooks';
import type { AttributePatch, Duration, Logger, ParentClosePolicy } from '@durably/contracts';
import type { StepHookOutcomes, StepSuspended } from './control.js';
import type { StepDefinition, WorkflowDefinition } from './definitions.js';
import type { CancelScope } from './cancel-scope.js';

/**
 * The scope durable calls run in: inside a workflow, the execution that records them; inside a step
 * body, the step's context. The engine sets it (runInScope); the API reads it (currentScope).
 */

/** What a step's checkpoint is stored through (the worker binds it to storage, run and step). */
export interface CheckpointStore {
  save(value: unknown): Promise<void>;
  load(): Promise<unknown>;
  delete(): Promise<void>;
}

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
  createHook(name: string, timeoutMs?: number, multiUse?: boolean): CreatedHook;
  /** The wait's promise, with `cancel()`: a wait that lost a race takes no later signal. */
  waitForSignal(name: string, timeoutMs?: number): Promise<unknown> & { cancel(): boolean };
  /** Sets the handler of signal `name` (buffered signals first, in order); returns its remover. */
  onSignal(name: string, handler: (payload: unknown) => unknown): () => void;
  /** True once `predicate` holds after the code ran; false at `timeoutMs`. */
  condition(predicate: () => boolean, timeoutMs?: number): Promise<boolean>;
  patched(patchId: string): boolean;
  /** Records a change to the run's search attributes (already checked) with the next append. */
  setAttributes(attributes: AttributePatch): void;
  setQueryHandler(name: string, handler: (...args: any[]) => unknown): void;
  /** Sets the handler of update `name` (buffered updates first, in order); returns its remover. */
  setUpdateHandler(name: string, handler: (payload: unknown) => unknown): () => void;
  /** True while the code re-runs what an earlier execution of the run already ran (replay of the log). */
  isReplaying(): boolean;
  startChild(def: WorkflowDefinition, args: unknown[], options: { parentClosePolicy: ParentClosePolicy; queue?: string }): Promise<{ runId: string; result: Promise<unknown> }>;
  /** A new cancellation scope (cancellable()) inside `parent`, numbered in the run. */
  openScope(parent: CancelScope | undefined): CancelScope;
  /** Cancels the pending calls of `scope` (recorded); false when it was cancelled already. */
  cancelScope(scope: CancelScope, reason?: string): boolean;
  /** Resolves when the run is asked to cancel (at once if it was). */
  cancelRequested(): Promise<{ reason?: string }>;
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
  /**
   * Tells the engine the step is alive: it re-arms the attempt's `heartbeatTimeout`. `details`
   * (serializable) record its progress: the attempt that follows a crash or a failure reads the last
   * ones in `heartbeatDetails`. Details are written at most once a second (the latest win).
   */
  heartbeat(details?: unknown): void;
  /**
   * The details of the last heartbeat of this step's previous attempts (a retry, or the attempt taken
   * over from a lost worker); undefined on its first attempt or when none were given.
   */
  readonly heartbeatDetails?: unknown;
  /** Fired when the attempt times out or the run is cancelled. */
  readonly signal: AbortSignal;
  /** Payloads (or timeouts) of this step's hooks so far (see `stepHook`); absent outside a worker. */
  readonly hookOutcomes?: StepHookOutcomes;
  /** @internal Set by stepHook when it suspends the step, even if the body catches what it throws. */
  readonly suspension?: { current?: StepSuspended };
  // `client` (the worker's client, for streams) is added by the runtime: see runtime/client/client.ts.
  /** The step's checkpoint (see `checkpoint`); absent outside a worker. */
  readonly checkpoints?: CheckpointStore;
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

/**
 * `shielded`: inside shield(), so the run's cancellation does not reach the calls made here.
 * `cancelScope`: the innermost cancellation scope (cancellable, or a shield's barrier) the calls belong to.
 */
export type Scope = { kind: 'workflow'; execution: WorkflowRuntime; shielded?: boolean; cancelScope?: CancelScope } | { kind: 'step'; context: StepContext };

const scopes = new AsyncLocalStorage<Scope>();

export function currentScope(): Scope | undefined {
  return scopes.getStore();
}

export function runInScope<T>(scope: Scope | undefined, fn: () => T): T {
  return scope === undefined ? scopes.exit(fn) : scopes.run(scope, fn);
}

/** A hook as the execution made it: a single-use one is awaited through `promise`; a multi-use one has `next` and `close`. */
export interface CreatedHook {
  token: string;
  promise: Promise<unknown>;
  next?: () => Promise<IteratorResult<unknown, undefined>>;
  close?: () => void;
}
