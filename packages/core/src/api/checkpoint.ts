import { currentScope, type CheckpointStore } from '../engine/scope.js';
import { NotInWorkflowError } from '@durably/contracts';

export type { CheckpointStore } from '../engine/scope.js';

function store(what: string): CheckpointStore {
  const scope = currentScope();
  if (scope?.kind !== 'step' || !scope.context.checkpoints) {
    throw new NotInWorkflowError(`checkpoint.${what}() was called outside a step. Call it inside a step(...) body that runs in a workflow.`);
  }
  return scope.context.checkpoints;
}

/**
 * Inside a step: a value saved as the step goes, keyed by run and step, so that an attempt that
 * follows a crash resumes where the last one got to.
 *
 * ```ts
 * const importRows = step('import-rows', async (file: string) => {
 *   let done = (await checkpoint.load<number>()) ?? 0;
 *   for (const row of rowsOf(file).slice(done)) { await insert(row); await checkpoint.save(++done); }
 *   return done;
 * });
 * ```
 * The checkpoint is deleted when the step completes.
 */
export const checkpoint = {
  save<T>(value: T): Promise<void> {
    return store('save').save(value);
  },
  async load<T>(): Promise<T | undefined> {
    return (await store('load').load()) as T | undefined;
  },
  delete(): Promise<void> {
    return store('delete').delete();
  },
};
