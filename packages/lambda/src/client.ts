import { SendDurableExecutionCallbackFailureCommand, SendDurableExecutionCallbackSuccessCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { HookPayloadInvalidError, InvalidArgumentError, type HookDefinition } from '@durably/core';
import { encodeHookPayload, errorData } from './codec.js';

/** Anything that sends Lambda commands: a LambdaClient, or a client of your own with the same `send`. */
export interface CallbackSender {
  send(command: SendDurableExecutionCallbackSuccessCommand | SendDurableExecutionCallbackFailureCommand): Promise<unknown>;
}

/** Options of resumeHook. */
export interface ResumeOptions<T> {
  /** Default: a LambdaClient for the environment's region and credentials. */
  client?: CallbackSender;
  /** The hook's definition: its schema checks the payload here, before anything is sent. */
  hook?: HookDefinition<T>;
}

let defaultClient: LambdaClient | undefined;

function sender(options: { client?: CallbackSender }): CallbackSender {
  return options.client ?? (defaultClient ??= new LambdaClient({}));
}

function checkToken(token: unknown, what: string): asserts token is string {
  if (typeof token !== 'string' || token.length === 0) throw new InvalidArgumentError(`${what}: the token must be the hook's token (the callback id), got ${JSON.stringify(token)}.`);
}

/**
 * Resumes a hook of a workflow running as a Lambda durable function: sends the payload as the
 * callback's result with SendDurableExecutionCallbackSuccess (IAM: lambda:SendDurableExecutionCallbackSuccess).
 * The token is the callback id the workflow's `hook.token` returned. A callback is completed once;
 * Lambda refuses a second completion.
 */
export async function resumeHook<T>(token: string, payload: T, options: ResumeOptions<T> = {}): Promise<void> {
  checkToken(token, 'resumeHook');
  let value: unknown = payload;
  const schema = options.hook?.schema;
  if (schema) {
    const parsed = schema.safeParse(payload);
    if (!parsed.success) throw new HookPayloadInvalidError(options.hook!.name, parsed.error);
    value = parsed.data;
  }
  await sender(options).send(new SendDurableExecutionCallbackSuccessCommand({ CallbackId: token, Result: new TextEncoder().encode(encodeHookPayload(value)) }));
}

/**
 * Fails a hook: the workflow's `await hook` rejects with `error` (its class, message and fields
 * survive), through SendDurableExecutionCallbackFailure.
 */
export async function rejectHook(token: string, error: Error, options: { client?: CallbackSender } = {}): Promise<void> {
  checkToken(token, 'rejectHook');
  await sender(options).send(
    new SendDurableExecutionCallbackFailureCommand({ CallbackId: token, Error: { ErrorType: error.name, ErrorMessage: error.message, ErrorData: errorData(error) } }),
  );
}
