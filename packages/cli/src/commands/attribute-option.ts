import { type Attributes, InvalidAttributeError, attributeValueFromText, attributeValueToText, checkAttributeFilter } from '@durably/core';
import { CliError, EXIT } from '../exit-codes.js';

/**
 * Commander's collector of repeated `--attribute key=value` options: a filter (values typed by
 * `attributeValueFromText`: true/false, numbers, "quoted" strings), checked as listRuns checks it.
 */
export function collectAttribute(option: string, previous: Attributes = {}): Attributes {
  const eq = option.indexOf('=');
  if (eq <= 0) throw new CliError(`--attribute ${JSON.stringify(option)}: write key=value, such as customer=c-42 or amount=120.`, EXIT.usage);
  const next = { ...previous, [option.slice(0, eq)]: attributeValueFromText(option.slice(eq + 1)) };
  try {
    return checkAttributeFilter(next, '--attribute');
  } catch (err) {
    if (err instanceof InvalidAttributeError) throw new CliError(err.message, EXIT.usage);
    throw err;
  }
}

/** A run's attributes for display: `key=value, ...`, as --attribute would read them back. */
export function formatAttributes(attributes: Attributes | undefined): string {
  return Object.entries(attributes ?? {})
    .map(([k, v]) => `${k}=${attributeValueToText(v)}`)
    .join(', ');
}
