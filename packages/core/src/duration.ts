import ms from 'ms';
import { InvalidDurationError } from './errors.js';

/** A duration: milliseconds, or an `ms`-style string ("500ms", "30s", "5m", "1d"). */
export type Duration = number | string;

/** Parses a duration to milliseconds; `field` names the option in the error message. */
export function parseDuration(value: Duration, field: string): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) throw new InvalidDurationError(value, field);
    return value;
  }
  if (typeof value === 'string') {
    const parsed = ms(value as ms.StringValue);
    if (typeof parsed !== 'number' || !Number.isFinite(parsed) || parsed < 0) throw new InvalidDurationError(value, field);
    return parsed;
  }
  throw new InvalidDurationError(value, field);
}
