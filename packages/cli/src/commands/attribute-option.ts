import { type AttributeValue, type Attributes, InvalidAttributeError, checkAttributeFilter } from '@durably/core';
import { CliError, EXIT } from '../exit-codes.js';

/** A JSON number, as the CLI reads one in `--attribute key=value`. */
const NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;

/**
 * The value of `--attribute key=value`: `true` and `false` are booleans, a number such as `120` or
 * `-1.5` is a number, a value in double quotes (`"120"`) is the string inside them, anything else is
 * the string as written.
 */
export function parseAttributeValue(text: string): AttributeValue {
  if (text === 'true') return true;
  if (text === 'false') return false;
  if (NUMBER.test(text)) return Number(text);
  if (text.length >= 2 && text.startsWith('"') && text.endsWith('"')) return text.slice(1, -1);
  return text;
}

/** Commander's collector of repeated `--attribute key=value` options: a filter, checked as listRuns checks it. */
export function collectAttribute(option: string, previous: Attributes = {}): Attributes {
  const eq = option.indexOf('=');
  if (eq <= 0) throw new CliError(`--attribute ${JSON.stringify(option)}: write key=value, such as customer=c-42 or amount=120.`, EXIT.usage);
  const next = { ...previous, [option.slice(0, eq)]: parseAttributeValue(option.slice(eq + 1)) };
  try {
    return checkAttributeFilter(next, '--attribute');
  } catch (err) {
    if (err instanceof InvalidAttributeError) throw new CliError(err.message, EXIT.usage);
    throw err;
  }
}

/** A run's attributes for display: `key=value`, strings quoted when they would read back as another type. */
export function formatAttributes(attributes: Attributes | undefined): string {
  return Object.entries(attributes ?? {})
    .map(([k, v]) => `${k}=${typeof v === 'string' && parseAttributeValue(v) !== v ? JSON.stringify(v) : String(v)}`)
    .join(', ');
}
