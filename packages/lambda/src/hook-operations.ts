import { CallbackTimeoutError } from '@aws/durable-execution-sdk-js';
import { deserialize, getHookDefinition, HookPayloadInvalidError, HookTimeoutError } from '@durably/core';
import { decodeHookPayload, durablyError, recordedSerdes, type Recorded } from './codec.js';
import { toSeconds } from './retry.js';
import { NEVER } from './never.js';
import type { DurableContext } from '@aws/durable-execution-sdk-js';
import type { OperationIndex } from './operation-index.js';

/** What `hook.token` reads in the one invocation that creates the hook, before AWS assigned the id. */
export const PENDING_TOKEN = 'durably:hook-token-pending';
const noop = () => undefined;

/** The part of the runtime hooks use: its context, what earlier invocations recorded, its clock. */
export interface HookHost {
  readonly setup: { readonly ctx: DurableContext; readonly index: OperationIndex; readonly path: string };
  blocked: boolean;
  issued: number;
  advance(at: number | undefined): void;
}

/**
 * Hooks as SDK callbacks. `create()` must return the token at once, but AWS assigns a callback's id
 * when the callback is checkpointed. So a hook is three operations, issued together:
 *   1. `hook:<name>#<n>`        createCallback: the callback; its id is the hook's token;
 *   2. `hook:<name>#<n>:token`  a step that records that id, so a replay reads it before the
 *                               workflow runs (from the OperationIndex) and `create()` returns it;
 *   3. `hook:<name>#<n>:ready`  a one-second wait that ends the invocation that created the hook.
 * In that first invocation the token is not known yet: the runtime blocks (every later call waits
 * forever) and the SDK ends the invocation at the wait. One second later the replay knows the
 * token and the workflow carries on with it. On replays all three are already recorded.
 */
export function createHookOperations(runtime: HookHost) {
  let count = 0;
  return {
    create(name: string, timeoutMs?: number): { token: string; promise: Promise<unknown> } {
      if (runtime.blocked) return { token: PENDING_TOKEN, promise: NEVER };
      const { ctx, index, path } = runtime.setup;
      const opName = `${path}hook:${name}#${++count}`;
      const callback = ctx.createCallback<string>(opName, timeoutMs === undefined ? undefined : { timeout: { seconds: toSeconds(timeoutMs) } });
      const tokenStep = ctx.step(`${opName}:token`, async (): Promise<Recorded<string>> => ({ value: (await callback)[1], at: Date.now() }), { serdes: recordedSerdes<string>() });
      const ready = ctx.wait(`${opName}:ready`, { seconds: 1 });
      runtime.issued += 3;
      // DurablePromises run their second phase only when someone awaits them.
      tokenStep.then(noop, noop);
      ready.then(noop, noop);

      const recorded = index.named(`${opName}:token`);
      if (recorded?.status !== 'SUCCEEDED' || recorded.result === undefined) {
        runtime.blocked = true;
        return { token: PENDING_TOKEN, promise: NEVER };
      }
      const token = deserialize<Recorded<string>>(recorded.result).value;
      const promise = callback
        .then(([payload]) => payload)
        .then(
          (text) => {
            // When it was resumed: the callback's end, as recorded (or now, resumed during this invocation).
            runtime.advance(index.named(opName)?.endTimestamp?.getTime() ?? Date.now());
            const payload = decodeHookPayload(text);
            const schema = getHookDefinition(name)?.schema;
            if (!schema) return payload;
            const parsed = schema.safeParse(payload);
            if (!parsed.success) throw new HookPayloadInvalidError(name, parsed.error);
            return parsed.data;
          },
          (error: unknown) => {
            runtime.advance(index.named(opName)?.endTimestamp?.getTime() ?? Date.now());
            if (error instanceof CallbackTimeoutError) throw new HookTimeoutError(`Hook "${name}" was not resumed within ${timeoutMs} ms.`);
            throw durablyError(error);
          },
        );
      promise.catch(noop); // awaited through the hook, or not at all
      return { token, promise };
    },
  };
}
