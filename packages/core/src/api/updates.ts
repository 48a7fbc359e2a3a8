import { checkName, InvalidArgumentError } from '@durably/contracts';
import { registerUpdate, type UpdateDefinition } from '../engine/update-definition.js';
import type { PayloadSchema } from '../engine/definitions.js';
import { workflowRuntime } from './context.js';

export { getUpdateDefinition, type UpdateDefinition } from '../engine/update-definition.js';

/** Options of `defineUpdate(name, options)`: how the caller checks a payload before it is sent. */
export interface UpdateOptions<T> {
  /** zod (or anything with `safeParse`): an invalid payload rejects the update in the caller; the parsed value is sent. */
  schema?: PayloadSchema<T>;
  /** Throw (or reject) to refuse the payload; runs in the caller after `schema`, on the payload alone. */
  validate?: (payload: T) => void | Promise<void>;
}

/**
 * Defines an update: a request to a running workflow that the workflow answers. The workflow sets
 * the handler with `update.handle(fn)`; `client.update(runId, update, payload)` resolves with the
 * handler's return value, rejects with UpdateRejectedError when `schema` or `validate` refuse the
 * payload (only the rejection is written), and with UpdateFailedError when the handler threw. Names
 * are unique in a process. Throws `InvalidArgumentError` for a bad name, schema or validator.
 *
 * @example
 * ```ts
 * import { condition, defineUpdate, step, workflow } from '@durably/core';
 * import { z } from 'zod';
 *
 * export const addItem = defineUpdate<{ sku: string }, { items: number }>('add-item', {
 *   schema: z.object({ sku: z.string().min(1) }),
 * });
 * const reserve = step('reserve', async (sku: string) => `reserved ${sku}`);
 *
 * export const cart = workflow('cart', async () => {
 *   const items: string[] = [];
 *   addItem.handle(async ({ sku }) => {
 *     items.push(await reserve(sku));   // a step, called from the handler
 *     return { items: items.length };   // the caller's answer
 *   });
 *   await condition(() => items.length >= 3);
 *   return items;
 * });
 * ```
 */
export function defineUpdate<T = unknown, R = unknown>(name: string, options: UpdateOptions<T> = {}): UpdateDefinition<T, R> {
  checkName('Update', name);
  if (options.schema !== undefined && typeof options.schema?.safeParse !== 'function') {
    throw new InvalidArgumentError(`defineUpdate("${name}"): "schema" must have a safeParse method (a zod schema, for example).`);
  }
  if (options.validate !== undefined && typeof options.validate !== 'function') {
    throw new InvalidArgumentError(`defineUpdate("${name}"): "validate" must be a function that throws to refuse a payload, got ${typeof options.validate}.`);
  }
  const def: UpdateDefinition<T, R> = {
    name,
    schema: options.schema,
    validate: options.validate,
    handle(handler) {
      return workflowRuntime(`${name}.handle()`).setUpdateHandler(name, handler as (payload: unknown) => unknown);
    },
  };
  registerUpdate(def, options.validate ?? options.schema ?? name);
  return def;
}
