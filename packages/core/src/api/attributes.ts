import { type AttributePatch, checkAttributePatch } from '@durably/contracts';
import { workflowRuntime } from './context.js';

/**
 * Sets search attributes on the running run: typed values (string, finite number, boolean) merged
 * into its record, where `client.listRuns({ attributes })` finds it through every storage's index. A
 * key given `null` is removed. Recorded in the run's log (`attributes_set`) and written with its next
 * append, so a replay checks the code sets the same attributes at the same point and writes nothing
 * again. Keys: 1-64 letters, digits, "_", "." and "-"; strings up to 256 characters; at most 32
 * attributes per run (`ATTRIBUTE_LIMITS`); a violation throws `InvalidAttributeError` naming the key.
 * Store a time as epoch milliseconds (`date.getTime()`). A run started by continueAsNew starts with
 * none: set them again in the new run.
 *
 * @example
 * ```ts
 * import { setAttributes, workflow } from '@durably/core';
 *
 * export const order = workflow('order', async (customer: string, amount: number) => {
 *   setAttributes({ customer, amount, priority: amount > 100 });
 *   // ... later, when it ships:
 *   setAttributes({ priority: null, shipped: true });
 * });
 * ```
 */
export function setAttributes(attributes: AttributePatch): void {
  const runtime = workflowRuntime('setAttributes()');
  runtime.setAttributes(checkAttributePatch(attributes, 'setAttributes()'));
}
