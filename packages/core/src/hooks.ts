import { currentScope, runInScope, type WorkflowRuntime } from './context.js';
import {
  parseDuration,
  type Duration,
  DurablyError,
  InvalidArgumentError,
  NotInWorkflowError,
  checkName,
  checkNonEmpty,
  checkQueue,
  checkSignalName,
  type ParentClosePolicy,
} from '@durably/contracts';
import { isWorkflow, type Workflow } from './definitions.js';

/**
 * Anything with zod's `safeParse` (zod 3 and 4, and compatible validators) can be a hook schema.
 */
export interface PayloadSchema<T> {
  safeParse(value: unknown): { success: true; data: T } | { success: false; error: unknown };
}

export interface HookDefinition<T> {
  readonly name: string;
  readonly schema?: PayloadSchema<T>;
  /**
   * Inside a workflow: creates a hook and returns it at once. `hook.token` is unguessable and
   * single-use; `await hook` suspends the run until `resumeHook(token, payload)` (rejects with
   * HookTimeoutError when `timeout` passes first).
   */
  create(options?: { timeout?: Duration }): Hook<T>;
}

/** A created hook: a promise for its payload, with the token that resumes it. */
export interface Hook<T> extends PromiseLike<T> {
  readonly token: string;
  catch<R = never>(onrejected?: (reason: unknown) => R | PromiseLike<R>): Promise<T | R>;
}

/** Hook definitions by name, so that resumeHook in any process can validate the payload. */
const hookRegistry = new Map<string, HookDefinition<unknown>>();

export function getHookDefinition(name: string): HookDefinition<unknown> | undefined {
  return hookRegistry.get(name);
}

export function defineHook<T>(name: string, options: { schema?: PayloadSchema<T> } = {}): HookDefinition<T> {
  checkName('Hook', name);
  if (options.schema !== undefined && typeof options.schema?.safeParse !== 'function') {
    throw new InvalidArgumentError(`defineHook("${name}"): "schema" must have a safeParse method (a zod schema, for example).`);
  }
  const existing = hookRegistry.get(name);
  if (existing && existing.schema !== options.schema) {
    throw new DurablyError(`A different hook named "${name}" is already defined. Hook names must be unique in a process.`);
  }
  const def: HookDefinition<T> = {
    name,
    schema: options.schema,
    create(createOptions = {}) {
      const scope = currentScope();
      if (scope?.kind !== 'workflow') {
        throw new NotInWorkflowError(`${name}.create() was called outside a workflow. Create hooks in the workflow body; resume them anywhere with resumeHook(token, payload).`);
      }
      const timeoutMs = createOptions.timeout === undefined ? undefined : parseDuration(createOptions.timeout, `${name}.create({ timeout })`);
      const { token, promise } = scope.execution.createHook(name, timeoutMs);
      return {
        token,
        then: (onfulfilled, onrejected) => (promise as Promise<T>).then(onfulfilled, onrejected),
        catch: (onrejected) => (promise as Promise<T>).catch(onrejected),
      } as Hook<T>;
    },
  };
  hookRegistry.set(name, def as HookDefinition<unknown>);
  return def;
}

function runtime(what: string): WorkflowRuntime {
  const scope = currentScope();
  if (scope?.kind !== 'workflow') throw new NotInWorkflowError(`${what} was called outside a workflow. Call it in a workflow(...) body.`);
  return scope.execution;
}

/**
 * Waits for the next signal named `name` sent to this run with sendSignal (signals that arrived
 * earlier are buffered and taken in order, each once). Rejects with SignalTimeoutError after `timeout`.
 */
export function waitForSignal<T = unknown>(name: string, options: { timeout?: Duration } = {}): Promise<T> {
  checkSignalName(name, 'waitForSignal');
  const timeoutMs = options.timeout === undefined ? undefined : parseDuration(options.timeout, 'waitForSignal({ timeout })');
  return runtime('waitForSignal()').waitForSignal(name, timeoutMs) as Promise<T>;
}

/**
 * Versioning: returns true in runs that reach this point with the new code (and records that), false
 * in runs whose log was written by code without this patch, so that they replay their old path.
 */
export function patched(patchId: string): boolean {
  checkNonEmpty(patchId, 'patched(id): id');
  return runtime('patched()').patched(patchId);
}

/** Thrown by continueAsNew to end the workflow function; the engine starts the next run. */
export class ContinueAsNew {
  constructor(readonly args: unknown[]) {}
}

/**
 * Ends this run and starts a fresh one of the same workflow with `args` and an empty history, linked
 * to this one. Use `return continueAsNew(...)` for unbounded loops. Any await after it never resolves.
 */
export function continueAsNew(...args: unknown[]): never {
  runtime('continueAsNew()');
  throw new ContinueAsNew(args);
}

/**
 * Runs `fn` shielded from cancellation: durable calls made inside it (cleanup steps in a `finally`)
 * run normally even after the run was cancelled. Outside a workflow it simply calls `fn`.
 */
export function shield<T>(fn: () => Promise<T> | T): Promise<T> {
  const scope = currentScope();
  if (scope?.kind !== 'workflow') return Promise.resolve().then(fn);
  return runInScope({ kind: 'workflow', execution: scope.execution, shielded: true }, () => Promise.resolve().then(fn));
}

/** A child run started from a workflow: its id and its outcome. */
export interface ChildHandle<R> {
  readonly runId: string;
  /** Awaits the child's outcome (durably); rejects with ChildWorkflowFailedError. */
  result(): Promise<R>;
}

export interface ChildOptions {
  /** When the parent ends first: "terminate" (default), "request_cancel" or "abandon". */
  parentClosePolicy?: ParentClosePolicy;
  /** Queue of the child's workflow tasks (default: the child workflow's queue). */
  queue?: string;
}

/** Starts a child workflow run, listed under this run; resolves once the child is recorded. */
export function startChild<A extends unknown[], R>(wf: Workflow<A, R>, ...args: A): Promise<ChildHandle<Awaited<R>>> {
  return startChildWith(wf, args, {});
}

export async function startChildWith<A extends unknown[], R>(wf: Workflow<A, R>, args: A, options: ChildOptions): Promise<ChildHandle<Awaited<R>>> {
  const execution = runtime('startChild()');
  if (!isWorkflow(wf)) throw new InvalidArgumentError('startChild(): the first argument must be a workflow made with workflow(name, fn).');
  const policy = options.parentClosePolicy ?? 'terminate';
  if (!['terminate', 'request_cancel', 'abandon'].includes(policy)) {
    throw new InvalidArgumentError(`startChild(): parentClosePolicy must be "terminate", "request_cancel" or "abandon", got ${JSON.stringify(policy)}.`);
  }
  const queue = options.queue === undefined ? undefined : checkQueue(options.queue, 'startChild()');
  const child = await execution.startChild(wf.definition, args, { parentClosePolicy: policy, queue });
  return { runId: child.runId, result: () => child.result as Promise<Awaited<R>> };
}

/** Starts a child workflow and waits for its result. */
export async function runChild<A extends unknown[], R>(wf: Workflow<A, R>, ...args: A): Promise<Awaited<R>> {
  return (await startChild(wf, ...args)).result();
}

export interface QueryDefinition<T> {
  readonly name: string;
  /** Inside a workflow: answers this query with `handler()` (which reads the workflow's state). */
  handle(handler: () => T): void;
}

/**
 * A query reads a value a workflow exposes, computed by replaying the run's log in the caller's
 * process; it never writes. Answer it with `client.query(workflow, runId, query)`.
 */
export function defineQuery<T>(name: string): QueryDefinition<T> {
  checkNonEmpty(name, 'defineQuery(name): name');
  return {
    name,
    handle(handler) {
      runtime(`${name}.handle()`).setQueryHandler(name, handler);
    },
  };
}
