import { deserialize, errorToObject, objectToError, serialize, type SerializedError } from '@durably/core';
import type { Serdes } from '@aws/durable-execution-sdk-js';

/**
 * How Durably values cross the SDK's checkpoints. Step and child results are stored with Durably's
 * own serialization (Date, Map, Set, BigInt, Uint8Array... survive a replay exactly as they do on the
 * embedded engine), wrapped with the time they completed so that `context().now()` after them is
 * the same in every replay.
 */
export interface Recorded<T> {
  value: T;
  /** Date.now() when the step (or child workflow) completed, recorded with its result. */
  at: number;
}

export function recordedSerdes<T>(): Serdes<Recorded<T>> {
  return {
    serialize: async (value) => (value === undefined ? undefined : serialize(value, 'a step result')),
    deserialize: async (text) => (text === undefined ? undefined : deserialize<Recorded<T>>(text)),
  };
}

/**
 * The SDK keeps a failed operation's error as a type, a message and a free-form `ErrorData` string.
 * Durably puts its whole error there (class, code, fields, cause, retryAfter) so that the error a
 * workflow catches after a replay is the one the step threw, not a bare message.
 */
const ERROR_MARK = 'durably-error:';

export function errorData(error: unknown, attempt?: number): string {
  return ERROR_MARK + JSON.stringify({ error: errorToObject(error), attempt });
}

/**
 * The Durably error carried by an SDK error (or one of its causes), with the attempt that threw it;
 * else the SDK error's cause (a plain Error with the type and message the SDK kept).
 */
export function carriedError(sdkError: unknown): { error: Error; attempt?: number } {
  for (let e = sdkError as { errorData?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
    if (typeof e.errorData === 'string' && e.errorData.startsWith(ERROR_MARK)) {
      const carried = JSON.parse(e.errorData.slice(ERROR_MARK.length)) as { error: SerializedError; attempt?: number };
      return { error: objectToError(carried.error), attempt: carried.attempt };
    }
  }
  const cause = (sdkError as { cause?: unknown } | undefined)?.cause;
  if (cause instanceof Error) return { error: cause };
  return { error: sdkError instanceof Error ? sdkError : new Error(String(sdkError)) };
}

export function durablyError(sdkError: unknown): Error {
  return carriedError(sdkError).error;
}

/**
 * A hook payload on the wire (the `Result` of SendDurableExecutionCallbackSuccess). `resumeHook`
 * sends `{"$durably": <Durably-serialized payload>}`, so Dates, Maps and BigInts arrive intact; any
 * other sender (the AWS CLI, another language) may send plain JSON, which arrives as parsed JSON;
 * anything that is not JSON arrives as the string sent.
 * `encodeHookPayload` is what resumeHook sends for `payload` (send it yourself with any Lambda client).
 */
export function encodeHookPayload(payload: unknown): string {
  return JSON.stringify({ $durably: serialize(payload, 'the hook payload') });
}

/** A callback's result as the workflow receives it: Durably's envelope decoded, else parsed JSON, else the string. */
export function decodeHookPayload(text: string | undefined): unknown {
  if (text === undefined || text === '') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return text;
  }
  if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) {
    const keys = Object.keys(parsed);
    const inner = (parsed as { $durably?: unknown }).$durably;
    if (keys.length === 1 && typeof inner === 'string') return deserialize(inner);
  }
  return parsed;
}
