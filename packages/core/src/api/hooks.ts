import { parseDuration, type Duration, InvalidArgumentError, NotInWorkflowError, checkName, checkNonEmpty } from '@durably/contracts';
import { currentScope } from '../engine/scope.js';
import { checkSchemaOption, registerHook, type ArgsSchema, type Hook, type HookDefinition, type MultiUseHook, type PayloadSchema, type QueryDefinition } from '../engine/definitions.js';
import { workflowRuntime } from './context.js';

export { getHookDefinition } from '../engine/definitions.js';
export type { Hook, HookDefinition, MultiUseHook, PayloadSchema, QueryDefinition } from '../engine/definitions.js';

/**
 * Defines a hook: a point where a workflow waits for a payload from outside (an approval, a webhook).
 * Names are unique in a process; `schema` (zod or anything with `safeParse`) validates payloads at
 * `resumeHook`. Throws `InvalidArgumentError` for a bad name or schema.
 *
 * @example
 * ```ts
 * import { defineHook, workflow } from '@durably/core';
 * import { z } from 'zod';
 *
 * const approval = defineHook('approval', { schema: z.object({ approved: z.boolean() }) });
 *
 * export const review = workflow('review', async (docId: string) => {
 *   const hook = approval.create({ timeout: '3d' });
 *   console.log(`resume with: durably hooks resume ${hook.token}`);
 *   const { approved } = await hook;
 *   return { docId, approved };
 * });
 * ```
 */
export function defineHook<T>(name: string, options: { schema?: PayloadSchema<T> } = {}): HookDefinition<T> {
  checkName('Hook', name);
  if (options.schema !== undefined && typeof options.schema?.safeParse !== 'function') {
    throw new InvalidArgumentError(`defineHook("${name}"): "schema" must have a safeParse method (a zod schema, for example).`);
  }
  const def = {
    name,
    schema: options.schema,
    create(createOptions: { timeout?: Duration; multiUse?: boolean } = {}) {
      const scope = currentScope();
      if (scope?.kind !== 'workflow') {
        throw new NotInWorkflowError(`${name}.create() was called outside a workflow. Create hooks in the workflow body; resume them anywhere with resumeHook(token, payload).`);
      }
      if (createOptions.multiUse !== undefined && typeof createOptions.multiUse !== 'boolean') {
        throw new InvalidArgumentError(`${name}.create({ multiUse }): multiUse must be true or false, got ${JSON.stringify(createOptions.multiUse)}.`);
      }
      const timeoutMs = createOptions.timeout === undefined ? undefined : parseDuration(createOptions.timeout, `${name}.create({ timeout })`);
      const created = scope.execution.createHook(name, timeoutMs, createOptions.multiUse === true);
      if (created.next && created.close) return multiUseHook<T>(created.token, created.next, created.close);
      const promise = created.promise as Promise<T>;
      return {
        token: created.token,
        then: (onfulfilled, onrejected) => promise.then(onfulfilled, onrejected),
        catch: (onrejected) => promise.catch(onrejected),
      } as Hook<T>;
    },
  } as HookDefinition<T>;
  registerHook(def as HookDefinition<unknown>);
  return def;
}

function multiUseHook<T>(token: string, next: () => Promise<IteratorResult<unknown, undefined>>, close: () => void): MultiUseHook<T> {
  const hook: MultiUseHook<T> = {
    token,
    next: next as () => Promise<IteratorResult<T, undefined>>,
    close,
    return: async () => {
      close();
      return { done: true, value: undefined };
    },
    [Symbol.asyncIterator]: () => hook,
  };
  return hook;
}

/**
 * A query reads a value a workflow exposes, computed by replaying the run's log in the caller's
 * process; it never writes. Answer it with `client.query(workflow, runId, query, ...args)`; `A` are
 * the arguments (none by default), checked by `schema` (a zod tuple, for example) when it is given.
 */
export function defineQuery<T, A extends unknown[] = []>(name: string, options: { schema?: ArgsSchema } = {}): QueryDefinition<T, A> {
  checkNonEmpty(name, 'defineQuery(name): name');
  const schema = checkSchemaOption(options.schema, `defineQuery("${name}")`);
  return {
    name,
    schema,
    handle(handler) {
      workflowRuntime(`${name}.handle()`).setQueryHandler(name, handler as (...args: unknown[]) => unknown);
    },
  };
}
