import { deserialize, type SerializedError } from '@durably/core';
import type { ErrorView, RenderedValue } from '../shared/api-types.js';

/**
 * Turns stored values into JSON-safe trees for the page. Stored payloads are devalue text, which
 * keeps Date, Map, Set, BigInt, typed arrays, undefined and repeated references: plain JSON would
 * lose or misstate them, so each node says what it is. Big values are cut (and say by how much), so
 * one huge payload cannot make a run page unreadable.
 */
const MAX_ITEMS = 200;
const MAX_STRING = 10_000;
const MAX_DEPTH = 24;
const MAX_NODES = 5_000;
const MAX_HEX_BYTES = 64;

/** Deserializes devalue text and renders it; text that cannot be read is shown as such. */
export function renderSerialized(text: string | undefined): RenderedValue {
  if (text === undefined) return { type: 'undefined' };
  let value: unknown;
  try {
    value = deserialize(text);
  } catch (err) {
    return { type: 'unreadable', reason: (err as Error).message, raw: text.slice(0, 2000) };
  }
  return renderValue(value);
}

export function renderValue(value: unknown): RenderedValue {
  const budget = { nodes: 0 };
  const seen = new Map<object, string>();
  return render(value, '$', 0, seen, budget);
}

function render(value: unknown, path: string, depth: number, seen: Map<object, string>, budget: { nodes: number }): RenderedValue {
  budget.nodes++;
  if (value === undefined) return { type: 'undefined' };
  if (value === null) return { type: 'null' };
  switch (typeof value) {
    case 'boolean':
      return { type: 'boolean', value };
    case 'number':
      return { type: 'number', value: Object.is(value, -0) ? '-0' : String(value) };
    case 'bigint':
      return { type: 'bigint', value: value.toString() };
    case 'string':
      return value.length > MAX_STRING ? { type: 'string', value: value.slice(0, MAX_STRING), truncated: value.length } : { type: 'string', value };
    case 'symbol':
    case 'function':
      return { type: 'other', value: String(value) };
    default:
      break;
  }
  const obj = value as object;
  const earlier = seen.get(obj);
  if (earlier !== undefined) return { type: 'ref', path: earlier };
  seen.set(obj, path);
  if (obj instanceof Date) return { type: 'date', value: Number.isNaN(obj.getTime()) ? 'Invalid Date' : obj.toISOString() };
  if (obj instanceof RegExp) return { type: 'regexp', value: String(obj) };
  if (obj instanceof Error) return { type: 'error', error: errorView(obj) };
  if (ArrayBuffer.isView(obj) || obj instanceof ArrayBuffer) {
    const bytes = obj instanceof ArrayBuffer ? new Uint8Array(obj) : new Uint8Array(obj.buffer, obj.byteOffset, obj.byteLength);
    const length = obj instanceof ArrayBuffer ? obj.byteLength : ArrayBuffer.isView(obj) && 'length' in obj ? Number((obj as { length: number }).length) : bytes.length;
    return { type: 'bytes', kind: obj.constructor.name, length, hex: Buffer.from(bytes.subarray(0, MAX_HEX_BYTES)).toString('hex') };
  }
  if (depth >= MAX_DEPTH || budget.nodes > MAX_NODES) return { type: 'other', value: '… (too deep or too large to show)' };
  const child = (v: unknown, p: string) => render(v, p, depth + 1, seen, budget);
  if (Array.isArray(obj)) {
    const shown = obj.slice(0, MAX_ITEMS).map((v, i) => child(v, `${path}[${i}]`));
    return obj.length > MAX_ITEMS ? { type: 'array', items: shown, more: obj.length - MAX_ITEMS } : { type: 'array', items: shown };
  }
  if (obj instanceof Map) {
    const entries: Array<[RenderedValue, RenderedValue]> = [];
    let i = 0;
    for (const [k, v] of obj) {
      if (i >= MAX_ITEMS) break;
      entries.push([child(k, `${path}.keys[${i}]`), child(v, `${path}.get(${i})`)]);
      i++;
    }
    return obj.size > MAX_ITEMS ? { type: 'map', entries, more: obj.size - MAX_ITEMS } : { type: 'map', entries };
  }
  if (obj instanceof Set) {
    const items: RenderedValue[] = [];
    let i = 0;
    for (const v of obj) {
      if (i >= MAX_ITEMS) break;
      items.push(child(v, `${path}.values[${i}]`));
      i++;
    }
    return obj.size > MAX_ITEMS ? { type: 'set', items, more: obj.size - MAX_ITEMS } : { type: 'set', items };
  }
  const keys = Object.keys(obj);
  const entries = keys.slice(0, MAX_ITEMS).map((k): [string, RenderedValue] => [k, child((obj as Record<string, unknown>)[k], `${path}.${k}`)]);
  return keys.length > MAX_ITEMS ? { type: 'object', entries, more: keys.length - MAX_ITEMS } : { type: 'object', entries };
}

/** An Error (live or read back by core) as the page shows it: name, message, code, stack, causes. */
export function errorView(err: Error, depth = 0): ErrorView {
  const view: ErrorView = { name: err.name, message: err.message };
  if (err.stack) view.stack = err.stack;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') view.code = code;
  if (err.cause instanceof Error && depth < 8) view.cause = errorView(err.cause, depth + 1);
  return view;
}

/** A stored SerializedError, as the page shows it. */
export function serializedErrorView(err: SerializedError | undefined, depth = 0): ErrorView | undefined {
  if (!err || typeof err !== 'object') return undefined;
  const view: ErrorView = { name: String(err.name ?? 'Error'), message: String(err.message ?? '') };
  if (typeof err.stack === 'string') view.stack = err.stack;
  if (typeof err.code === 'string') view.code = err.code;
  if (err.fatal) view.fatal = true;
  if (err.cause && depth < 8) view.cause = serializedErrorView(err.cause, depth + 1);
  return view;
}
