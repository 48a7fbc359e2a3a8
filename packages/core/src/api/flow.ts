import { checkNonEmpty } from '@durably/contracts';
import { ContinueAsNew } from '../engine/control.js';
import { currentScope, runInScope } from '../engine/scope.js';
import { CancelScope } from '../engine/cancel-scope.js';
import { workflowRuntime } from './context.js';

/**
 * Versioning: returns true in runs that reach this point with the new code (and records that), false
 * in runs whose log was written by code without this patch, so that they replay their old path.
 */
export function patched(patchId: string): boolean {
  checkNonEmpty(patchId, 'patched(id): id');
  return workflowRuntime('patched()').patched(patchId);
}

/**
 * Ends this run and starts a fresh one of the same workflow with `args` and an empty history, linked
 * to this one. Use `return continueAsNew(...)` for unbounded loops. Any await after it never resolves.
 */
export function continueAsNew(...args: unknown[]): never {
  workflowRuntime('continueAsNew()');
  throw new ContinueAsNew(args);
}

/**
 * Runs `fn` shielded from cancellation: durable calls made inside it (cleanup steps in a `finally`)
 * run normally even after the run, or a cancellation scope around it (`cancellable`, `withTimeout`),
 * was cancelled. Outside a workflow it simply calls `fn`.
 */
export function shield<T>(fn: () => Promise<T> | T): Promise<T> {
  const scope = currentScope();
  if (scope?.kind !== 'workflow') return Promise.resolve().then(fn);
  // A barrier between the calls made inside and the cancellation scopes around them.
  const barrier = new CancelScope(undefined, scope.cancelScope, true);
  return runInScope({ kind: 'workflow', execution: scope.execution, shielded: true, cancelScope: barrier }, () => Promise.resolve().then(fn));
}
