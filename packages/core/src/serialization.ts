import { parse, stringify } from 'devalue';
import { DurablyError, SerializationError } from './errors.js';

/**
 * Values cross process boundaries as strings made by devalue: it keeps Date, Map, Set, BigInt,
 * typed arrays, RegExp, undefined, -0/NaN/Infinity, repeated and cyclic references, and rejects
 * functions and class instances with a clear path to the bad value. Errors are added here with a
 * reducer that keeps name, message, stack, code and cause. (superjson was the alternative; devalue
 * is smaller, faster and already handles binary data.)
 */
export type Serialized = string;

export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  code?: string;
  /** Set for errors whose class says "do not retry" (FatalError and friends). */
  fatal?: boolean;
  cause?: SerializedError;
}

const reducers = {
  Error: (value: unknown) => (value instanceof Error ? errorToObject(value) : undefined),
};

const ERROR_CLASSES = new Map<string, new (message: string) => Error>([
  ['Error', Error],
  ['TypeError', TypeError],
  ['RangeError', RangeError],
  ['SyntaxError', SyntaxError],
  ['ReferenceError', ReferenceError],
]);

const revivers = {
  Error: (value: SerializedError) => objectToError(value),
};

export function serialize(value: unknown, what = 'value'): Serialized {
  try {
    return stringify(value, reducers);
  } catch (err) {
    throw new SerializationError(
      `Cannot serialize ${what}: ${(err as Error).message}. ` +
        `Arguments and results must be plain data (objects, arrays, strings, numbers, Date, Map, Set, BigInt, Uint8Array, Error); not functions or class instances.`,
      { cause: err },
    );
  }
}

export function deserialize<T = unknown>(text: Serialized): T {
  try {
    return parse(text, revivers) as T;
  } catch (err) {
    throw new SerializationError(`Cannot deserialize a stored value: ${(err as Error).message}`, { cause: err });
  }
}

export function errorToObject(err: unknown): SerializedError {
  if (!(err instanceof Error)) {
    return { name: 'Error', message: typeof err === 'string' ? err : safeString(err) };
  }
  const out: SerializedError = { name: err.name, message: err.message };
  if (err.stack) out.stack = err.stack;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') out.code = code;
  if (code === 'FATAL') out.fatal = true;
  if (err.cause !== undefined) out.cause = errorToObject(err.cause);
  return out;
}

/** Rebuilds an Error from its stored form; the stored name, code and stack are kept. */
export function objectToError(obj: SerializedError): Error {
  const Ctor = ERROR_CLASSES.get(obj.name) ?? Error;
  const err: Error = obj.code ? new RestoredError(obj.message, obj.code) : new Ctor(obj.message);
  Object.defineProperty(err, 'name', { value: obj.name, enumerable: false, configurable: true, writable: true });
  if (obj.stack) err.stack = obj.stack;
  if (obj.cause) (err as { cause?: unknown }).cause = objectToError(obj.cause);
  return err;
}

/** An error read back from the log: keeps the original class name in `name` and its `code`. */
class RestoredError extends DurablyError {
  constructor(message: string, code: string) {
    super(message);
    Object.defineProperty(this, 'code', { value: code, enumerable: true });
  }
}

function safeString(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** Size in bytes of a serialized value, as stored (UTF-8). */
export function byteSize(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}
