import { parse, stringify } from 'devalue';
import * as baseErrorClasses from './errors.js';
import * as updateErrorClasses from './update-errors.js';
import * as codecErrorClasses from './codec-errors.js';
import * as streamErrorClasses from './stream-errors.js';
import { DurablyError, SerializationError } from './errors.js';
import { PayloadKeyMissingError } from './codec-errors.js';
import { parseEnvelope } from './codec.js';

/**
 * Values cross process boundaries as strings made by devalue: it keeps Date, Map, Set, BigInt,
 * typed arrays, RegExp, undefined, -0/NaN/Infinity, repeated and cyclic references, and rejects
 * functions and class instances with a clear path to the bad value. Errors are added here with a
 * reducer that keeps name, message, stack, code, cause and a Durably error's fields, and a reviver
 * that rebuilds the error's class (see objectToError). (superjson was the alternative; devalue is
 * smaller, faster and already handles binary data.)
 */
export type Serialized = string;

/**
 * An error as a run's log stores it: plain JSON that {@link objectToError} turns back into an
 * instance of the error's class.
 */
export interface SerializedError {
  /** The error's `name` (its class name for Durably errors). */
  name: string;
  /** The error's message. */
  message: string;
  /** The stack trace where the error was made, when it had one. */
  stack?: string;
  /** The error's `code` when it is a string (`'FATAL'`, `'STEP_TIMEOUT'`, a driver's `'ECONNRESET'`...). */
  code?: string;
  /** Set for errors whose class says "do not retry" (FatalError and friends). */
  fatal?: boolean;
  /** The error's `cause`, stored the same way. */
  cause?: SerializedError;
  /**
   * The own data fields of a Durably error (NonDeterminismError's `position`, `recorded` and
   * `current`, StepFailedError's `stepName` and `attempts`...), as JSON values. Errors of other
   * classes keep only name, message, stack and code: their fields may hold anything (a request with
   * its credentials, say), which has no place in a durable log.
   */
  fields?: Record<string, unknown>;
  /**
   * Set when a payload codec encrypted the error (see `PayloadCodec`): the envelope of the whole
   * error as JSON. `name` is then `EncryptedError` and `message` says which key opens it; the
   * codec's storage layer puts the real error back when it reads.
   */
  sealed?: string;
}

const reducers = {
  Error: (value: unknown) => (value instanceof Error ? errorToObject(value) : undefined),
};

const BUILTIN_ERRORS = new Map<string, ErrorConstructor>([
  ['Error', Error],
  ['TypeError', TypeError],
  ['RangeError', RangeError],
  ['SyntaxError', SyntaxError],
  ['ReferenceError', ReferenceError],
  ['EvalError', EvalError],
  ['URIError', URIError],
]);

type DurablyErrorClass = abstract new (...args: never[]) => DurablyError;

/**
 * Every error class core exports, by class name and by code, so that a stored error comes back as an
 * instance of its class. By code: a user's subclass (`class CardDeclined extends FatalError`) is not
 * known here by name, but comes back as an instance of the Durably class it extends.
 */
const DURABLY_BY_NAME = new Map<string, DurablyErrorClass>();
const DURABLY_BY_CODE = new Map<string, DurablyErrorClass>();
for (const value of [...Object.values(baseErrorClasses), ...Object.values(updateErrorClasses), ...Object.values(codecErrorClasses), ...Object.values(streamErrorClasses)]) {
  if (typeof value !== 'function' || !(value === DurablyError || value.prototype instanceof DurablyError)) continue;
  const cls = value as DurablyErrorClass;
  DURABLY_BY_NAME.set(cls.name, cls);
  // `code` is a class field, set by the constructor: one instance tells it.
  try {
    const code = (Reflect.construct(cls, []) as DurablyError).code;
    if (!DURABLY_BY_CODE.has(code)) DURABLY_BY_CODE.set(code, cls);
  } catch {
    // A constructor that needs its arguments: the class is still found by name.
  }
}

const revivers = {
  Error: (value: SerializedError) => objectToError(value),
};
/**
 * Turns a value into the string stored for it (devalue, with errors kept; see {@link Serialized}).
 * `what` names the value in the error message (`'the arguments of workflow "x"'`).
 * Throws `SerializationError` for values that are not plain data (functions, class instances).
 *
 * @example
 * ```ts
 * import { serialize, deserialize } from '@durably/core';
 *
 * const text = serialize({ at: new Date(0), ids: new Set([1, 2]) });
 * const back = deserialize<{ at: Date; ids: Set<number> }>(text); // a Date and a Set again
 * ```
 */
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

/**
 * Reads back a value made by {@link serialize}, rebuilding Dates, Maps, Sets, errors of their class...
 * `T` is not checked: it is what the caller knows the value to be. Throws `SerializationError` when
 * the text is not a serialized value, and `PayloadKeyMissingError` when it is a codec's envelope
 * (the value is encrypted and was read without its codec).
 */
export function deserialize<T = unknown>(text: Serialized): T {
  const envelope = parseEnvelope(text);
  if (envelope) throw new PayloadKeyMissingError(envelope.keyId, [], envelope.codec);
  try {
    return parse(text, revivers) as T;
  } catch (err) {
    throw new SerializationError(`Cannot deserialize a stored value: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * The stored form of anything thrown: name, message, stack, string `code`, `cause` (recursively),
 * `fatal` for FatalError, and a Durably error's own data fields. A thrown non-Error becomes an
 * `Error` whose message is the string, or the value as JSON.
 */
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
  if (err instanceof DurablyError) {
    const fields = ownFields(err);
    if (fields) out.fields = fields;
  }
  return out;
}

const NOT_FIELDS = new Set(['name', 'message', 'stack', 'code', 'cause']);

/** The own enumerable data fields of an error, each kept only if it survives JSON unchanged in kind. */
function ownFields(err: Error): Record<string, unknown> | undefined {
  let fields: Record<string, unknown> | undefined;
  for (const [key, value] of Object.entries(err)) {
    if (NOT_FIELDS.has(key) || value === undefined || typeof value === 'function') continue;
    let json: unknown;
    try {
      json = value instanceof Error ? errorToObject(value) : JSON.parse(JSON.stringify(value));
    } catch {
      continue; // cyclic, a BigInt...: not a field a log can keep
    }
    (fields ??= {})[key] = json;
  }
  return fields;
}

/**
 * Rebuilds an Error from its stored form. A Durably error comes back as an instance of its class
 * (found by name, else by code) with its fields; a built-in error as its built-in class; any other
 * as a plain Error with the stored name, message, stack and code. The class's constructor is not run
 * (its arguments are not stored): the instance is made by Error with the class as `new.target`, so
 * it is a real Error whose prototype chain is the class's.
 */
export function objectToError(obj: SerializedError): Error {
  const durably = DURABLY_BY_NAME.get(obj.name) ?? (obj.code === undefined ? undefined : DURABLY_BY_CODE.get(obj.code));
  const builtin = durably ? undefined : BUILTIN_ERRORS.get(obj.name);
  const err: Error = durably ? (Reflect.construct(Error, [obj.message], durably) as Error) : new (builtin ?? Error)(obj.message);
  define(err, 'name', obj.name, false);
  if (obj.code !== undefined) define(err, 'code', obj.code, true);
  for (const [key, value] of Object.entries(obj.fields ?? {})) {
    if (!NOT_FIELDS.has(key)) define(err, key, value, true);
  }
  if (obj.stack) define(err, 'stack', obj.stack, false);
  else if (err.stack) define(err, 'stack', `${obj.name}: ${obj.message}`, false);
  if (obj.cause) define(err, 'cause', objectToError(obj.cause), false);
  return err;
}

function define(target: object, key: string, value: unknown, enumerable: boolean): void {
  Object.defineProperty(target, key, { value, enumerable, configurable: true, writable: true });
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
