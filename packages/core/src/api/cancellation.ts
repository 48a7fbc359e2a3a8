import { InvalidArgumentError, NotInWorkflowError, ScopeTimeoutError, parseDuration, type Duration } from '@durably/contracts';
import { currentScope, runInScope } from '../engine/scope.js';
import { sleep, workflowRuntime } from './context.js';

/**
 * A cancellation scope: the promise of its function's result, with `cancel(reason?)`. Cancelling it
 * rejects every pending call made inside it with ScopeCancelledError, and those made in it later.
 */
export type CancellableScope<T> = Promise<T> & {
  /**
   * Cancels the scope (recorded in the run's log as `scope_cancelled`). Returns false when it was
   * cancelled already, itself or with a scope around it.
   */
  cancel(reason?: string): boolean;
};

/**
 * Runs `fn` in a cancellation scope of the workflow. The durable calls made inside it belong to the
 * scope: `cancel()` settles the pending ones with ScopeCancelledError (a running step attempt sees
 * its abort signal and is not recorded, a step not started never starts, timers and waits reject,
 * hooks stop taking payloads, children started in it are asked to cancel) and the calls made in it
 * afterwards reject at once. Scopes nest: cancelling one cancels those inside it, but not the calls
 * inside a `shield()`. The returned promise is `fn`'s: it settles when `fn` does. The run goes on.
 *
 * @example
 * ```ts
 * import { cancellable, sleep, step, workflow, ScopeCancelledError } from '@durably/core';
 *
 * const render = step('render', async (id: string) => `rendered ${id}`);
 *
 * export const preview = workflow('preview', async (id: string) => {
 *   const work = cancellable(() => render(id));
 *   await sleep('10s');
 *   work.cancel('the preview is no longer needed');
 *   try {
 *     return await work;
 *   } catch (err) {
 *     if (err instanceof ScopeCancelledError) return 'skipped';
 *     throw err;
 *   }
 * });
 * ```
 */
export function cancellable<T>(fn: () => Promise<T> | T): CancellableScope<T> {
  const scope = currentScope();
  if (scope?.kind !== 'workflow') throw new NotInWorkflowError('cancellable() was called outside a workflow. Call it in a workflow(...) body (a step body has its abort signal: context().signal).');
  if (typeof fn !== 'function') throw new InvalidArgumentError(`cancellable(fn): fn must be a function, got ${typeof fn}.`);
  const execution = scope.execution;
  const inner = execution.openScope(scope.cancelScope);
  const promise = runInScope({ ...scope, cancelScope: inner }, () => Promise.resolve().then(fn));
  // A scope cancelled and never awaited (work in the background) must not crash the worker's process.
  promise.catch(() => undefined);
  const cancel = (reason?: string): boolean => {
    // Only the workflow's own code may cancel, so that every replay cancels at the same point.
    const here = currentScope();
    if (here?.kind !== 'workflow' || here.execution !== execution) {
      throw new NotInWorkflowError('cancel() of a cancellable scope was called outside the workflow that made it (in a step body, or after its run moved on). Cancel it from the workflow code.');
    }
    if (reason !== undefined && typeof reason !== 'string') throw new InvalidArgumentError(`cancel(reason): the reason must be a string, got ${typeof reason}.`);
    return execution.cancelScope(inner, reason);
  };
  return Object.assign(promise, { cancel });
}

/**
 * Runs `fn` in a cancellation scope bounded by a durable timer: if `fn` has not finished within
 * `duration`, the scope is cancelled (as by `cancel()`) and, once `fn` has settled, this rejects with
 * ScopeTimeoutError (its `cause`: how `fn` ended). When `fn` finishes first its timer is cancelled.
 * The timer is a durable sleep of the scope around it, so the run may suspend while it waits.
 *
 * @example
 * ```ts
 * import { withTimeout, step, workflow, ScopeTimeoutError } from '@durably/core';
 *
 * const reserve = step('reserve', async (sku: string) => `held ${sku}`);
 * const confirm = step('confirm', async (hold: string) => `confirmed ${hold}`);
 *
 * export const order = workflow('order', async (sku: string) => {
 *   try {
 *     return await withTimeout('5m', async () => confirm(await reserve(sku)));
 *   } catch (err) {
 *     if (err instanceof ScopeTimeoutError) return 'timed out';
 *     throw err;
 *   }
 * });
 * ```
 */
export async function withTimeout<T>(duration: Duration, fn: () => Promise<T> | T): Promise<T> {
  workflowRuntime('withTimeout()');
  const ms = parseDuration(duration, 'withTimeout(duration)');
  const work = cancellable(fn);
  const timer = cancellable(() => sleep(ms));
  let timerEnded = false;
  let timedOut = false;
  timer.then(
    () => {
      timerEnded = true;
      timedOut = work.cancel(`withTimeout(${JSON.stringify(duration)}) timed out`);
    },
    () => (timerEnded = true), // cancelled: by us below, or with a scope around both
  );
  let value: T;
  try {
    value = await work;
  } catch (err) {
    if (timedOut) throw new ScopeTimeoutError(duration, { cause: err });
    throw err;
  } finally {
    if (!timerEnded) timer.cancel(`withTimeout(${JSON.stringify(duration)}): the work finished first`);
  }
  if (timedOut) throw new ScopeTimeoutError(duration);
  return value;
}

/**
 * Resolves (with the reason given to `cancel`) when the run is asked to cancel; at once if it was.
 * The request also rejects the run's pending calls outside `shield()` with CancelledError; this lets
 * code that runs shielded, or races its work against the request, notice it and clean up. It is
 * recorded (`cancel_requested`), so a replay sees it at the same point. It never rejects.
 *
 * @example
 * ```ts
 * import { cancelRequested, condition, shield, step, workflow } from '@durably/core';
 *
 * const release = step('release', async (reason?: string) => `released (${reason ?? 'no reason'})`);
 *
 * export const holder = workflow('holder', async () => {
 *   return shield(async () => {
 *     const { reason } = await cancelRequested();
 *     return release(reason);
 *   });
 * });
 * ```
 */
export function cancelRequested(): Promise<{ reason?: string }> {
  return workflowRuntime('cancelRequested()').cancelRequested();
}
