import { currentScope } from '../engine/scope.js';
import { StepSuspended } from '../engine/control.js';
import { newHookToken } from '../engine/hook-token.js';
import { parseDuration, type Duration, InvalidArgumentError, NotInWorkflowError } from '@durably/contracts';
import { getHookDefinition, type PayloadSchema } from '../engine/definitions.js';
import { defineHook } from './hooks.js';

export { StepSuspended, type StepHookOutcomes } from '../engine/control.js';

/**
 * Inside a step: waits for an external payload. The first time, the step suspends (the run holds
 * nothing) until `resumeHook(token, payload)`; then the step runs again from the top and this call
 * returns the payload. Get the token to the outside world with `onToken` (an email, a ticket):
 *
 * ```ts
 * const review = step('review', async (doc: string) => {
 *   const verdict = await stepHook<{ ok: boolean }>('review', { timeout: '2d', onToken: (t) => notify(doc, t) });
 *   return verdict.ok;
 * });
 * ```
 * Rejects with HookTimeoutError when `timeout` passes first. Steps with hooks run inline (the default
 * step mode).
 */
export async function stepHook<T>(name: string, options: { timeout?: Duration; schema?: PayloadSchema<T>; onToken?: (token: string) => unknown } = {}): Promise<T> {
  const scope = currentScope();
  if (scope?.kind !== 'step' || !scope.context.hookOutcomes) {
    throw new NotInWorkflowError(`stepHook("${name}") was called outside a step that runs in a workflow.`);
  }
  if (typeof name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,99}$/.test(name)) {
    throw new InvalidArgumentError(`stepHook: name ${JSON.stringify(name)} is invalid: use letters, digits, "_", "-", "." and ":".`);
  }
  if (options.schema && !getHookDefinition(name)) defineHook(name, { schema: options.schema });
  const outcome = scope.context.hookOutcomes.get(name);
  if (outcome) {
    if (outcome.ok) return outcome.value as T;
    throw outcome.error;
  }
  const timeoutMs = options.timeout === undefined ? undefined : parseDuration(options.timeout, `stepHook("${name}", { timeout })`);
  const token = newHookToken();
  if (options.onToken) await options.onToken(token);
  const suspended = new StepSuspended(name, token, timeoutMs);
  // Recorded on the context too: the step is suspended even if its code catches this.
  if (scope.context.suspension) scope.context.suspension.current ??= suspended;
  throw suspended;
}
