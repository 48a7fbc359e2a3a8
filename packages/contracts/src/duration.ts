import { durationMs, type Duration } from './duration-ms.js';
import { InvalidDurationError } from './errors.js';

export type { Duration };

/** Parses a duration to milliseconds; `field` names the option in the error message. */
export function parseDuration(value: Duration, field: string): number {
  const parsed = durationMs(value);
  if (parsed === undefined) throw new InvalidDurationError(value, field);
  return parsed;
}
