import { InvalidAttributeError } from './errors.js';
import { ATTRIBUTE_LIMITS } from './limits.js';
import { ATTRIBUTE_KEY_PATTERN } from './names.js';

/**
 * Search attributes: typed values a running workflow sets with `setAttributes`, recorded in its log,
 * kept on the run record and indexed by every storage for `listRuns({ attributes })`. A value is a
 * string, a finite number or a boolean; a time is stored as epoch milliseconds (`date.getTime()`).
 */

/** One search attribute's value: a string, a finite number or a boolean. */
export type AttributeValue = string | number | boolean;

/** A run's search attributes, by key. */
export type Attributes = Record<string, AttributeValue>;

/** A change to a run's search attributes: each key given is set, a key given null is removed. */
export type AttributePatch = Record<string, AttributeValue | null>;

function keyOk(key: string, owner: string): void {
  if (!ATTRIBUTE_KEY_PATTERN.test(key)) {
    throw new InvalidAttributeError(
      key,
      'key',
      `${owner}: attribute key ${JSON.stringify(key)} is invalid: use 1-${ATTRIBUTE_LIMITS.maxKeyLength} letters, digits, "_", "." and "-", starting with a letter or "_".`,
    );
  }
}

function valueOk(key: string, value: unknown, owner: string, allowNull: boolean): void {
  if (value === null && allowNull) return;
  if (typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value))) return;
  if (typeof value === 'string') {
    if (value.length <= ATTRIBUTE_LIMITS.maxStringLength) return;
    throw new InvalidAttributeError(key, 'string length', `${owner}: attribute "${key}" is a string of ${value.length} characters; the limit is ${ATTRIBUTE_LIMITS.maxStringLength}. Index a shorter key (an id) instead.`);
  }
  const hint = value instanceof Date ? ' Store a time as epoch milliseconds: date.getTime().' : '';
  throw new InvalidAttributeError(
    key,
    'value type',
    `${owner}: attribute "${key}" must be a string, a finite number or a boolean${allowNull ? ' (null removes it)' : ''}, got ${describeValue(value)}.${hint}`,
  );
}

function describeValue(value: unknown): string {
  if (value instanceof Date) return 'a Date';
  if (typeof value === 'bigint') return `the bigint ${value}n (use a number)`;
  if (typeof value === 'number' || value === null || Array.isArray(value)) return JSON.stringify(value) ?? String(value);
  return typeof value === 'object' ? 'an object' : typeof value;
}

function plainObject(value: unknown, owner: string): value is Record<string, unknown> {
  if (typeof value === 'object' && value !== null && !Array.isArray(value) && (Object.getPrototypeOf(value) === Object.prototype || Object.getPrototypeOf(value) === null)) return true;
  throw new InvalidAttributeError('', 'value type', `${owner}: attributes must be a plain object of key: value, got ${Array.isArray(value) ? 'an array' : typeof value}.`);
}

/** Checks what `setAttributes` was given (keys, value types, string lengths); returns a plain copy. */
export function checkAttributePatch(patch: unknown, owner: string): AttributePatch {
  plainObject(patch, owner);
  const keys = Object.keys(patch as object);
  if (keys.length > ATTRIBUTE_LIMITS.maxPerRun) {
    throw new InvalidAttributeError(keys[ATTRIBUTE_LIMITS.maxPerRun], 'count', `${owner}: ${keys.length} attributes in one call; the limit is ${ATTRIBUTE_LIMITS.maxPerRun} (ATTRIBUTE_LIMITS.maxPerRun).`);
  }
  const copy: AttributePatch = {};
  for (const [key, value] of Object.entries(patch as Record<string, unknown>)) {
    keyOk(key, owner);
    valueOk(key, value, owner, true);
    copy[key] = value === 0 ? 0 : (value as AttributeValue | null); // -0 is 0 (the log is JSON)
  }
  return copy;
}

/** Checks a `listRuns({ attributes })` filter (no null: a filter matches values). */
export function checkAttributeFilter(filter: unknown, owner: string): Attributes {
  plainObject(filter, owner);
  const copy: Attributes = {};
  for (const [key, value] of Object.entries(filter as Record<string, unknown>)) {
    keyOk(key, owner);
    valueOk(key, value, owner, false);
    copy[key] = value === 0 ? 0 : (value as AttributeValue);
  }
  return copy;
}

/**
 * The attributes after `patch` applied to `current` (null removes a key). Throws
 * `InvalidAttributeError` naming the first new key past `ATTRIBUTE_LIMITS.maxPerRun`.
 */
export function mergeAttributes(current: Attributes | undefined, patch: AttributePatch, owner = 'setAttributes()'): Attributes {
  const next: Attributes = { ...current };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) {
      delete next[key];
      continue;
    }
    if (!(key in next) && Object.keys(next).length >= ATTRIBUTE_LIMITS.maxPerRun) {
      throw new InvalidAttributeError(key, 'count', `${owner}: attribute "${key}" would make ${ATTRIBUTE_LIMITS.maxPerRun + 1} attributes on the run; the limit is ${ATTRIBUTE_LIMITS.maxPerRun} (ATTRIBUTE_LIMITS.maxPerRun). Remove one (set it to null) first.`);
    }
    next[key] = value;
  }
  return next;
}

/** Merges patches in order into one (a later key wins): what one append applies to the run record. */
export function combineAttributePatches(patches: AttributePatch[]): AttributePatch | undefined {
  if (patches.length === 0) return undefined;
  return Object.assign({}, ...patches) as AttributePatch;
}

/** True when two patches set the same keys to the same values of the same types (replay's check). */
export function sameAttributePatch(a: AttributePatch, b: AttributePatch): boolean {
  const ak = Object.keys(a);
  const bk = Object.keys(b);
  return ak.length === bk.length && ak.every((k) => Object.prototype.hasOwnProperty.call(b, k) && a[k] === b[k]);
}

/**
 * The typed string an index stores for a value: `s:<string>`, `n:<number>` or `b:<boolean>`, so the
 * number 1 (`n:1`) and the string '1' (`s:1`) never match each other. Every storage's index uses it.
 */
export function attributeIndexValue(value: AttributeValue): string {
  if (typeof value === 'string') return `s:${value}`;
  if (typeof value === 'number') return `n:${String(value)}`;
  return `b:${value}`;
}

/** True when the record's attributes hold every key of `filter` with an equal value of the same type. */
export function attributesMatch(attributes: Attributes | undefined, filter: Attributes | undefined): boolean {
  if (!filter) return true;
  for (const [key, value] of Object.entries(filter)) {
    const have = attributes?.[key];
    if (have === undefined || attributeIndexValue(have) !== attributeIndexValue(value)) return false;
  }
  return true;
}

/** The value `attributeIndexValue` encoded (lossless: a number's shortest round-trip text). */
export function attributeFromIndexValue(encoded: string): AttributeValue {
  const text = encoded.slice(2);
  if (encoded.startsWith('n:')) return Number(text);
  if (encoded.startsWith('b:')) return text === 'true';
  return text;
}

/** A JSON number, as an attribute filter written as text reads one. */
const NUMBER_TEXT = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;

/**
 * An attribute value written as text (`durably runs list --attribute key=value`, the dashboard's
 * filter): `true` and `false` are booleans, a number such as `120` or `-1.5` is a number, a value in
 * double quotes (`"120"`) is the string inside them, anything else is the string as written.
 */
export function attributeValueFromText(text: string): AttributeValue {
  if (text === 'true') return true;
  if (text === 'false') return false;
  if (NUMBER_TEXT.test(text)) return Number(text);
  if (text.length >= 2 && text.startsWith('"') && text.endsWith('"')) return text.slice(1, -1);
  return text;
}

/** A value as `attributeValueFromText` reads it back: a string that would read as another type is quoted. */
export function attributeValueToText(value: AttributeValue): string {
  return typeof value === 'string' && attributeValueFromText(value) !== value ? JSON.stringify(value) : String(value);
}
