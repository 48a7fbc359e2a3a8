import ms from 'ms';

/** A duration: milliseconds, or an `ms`-style string ("500ms", "30s", "5m", "1d"). */
export type Duration = number | string;

/**
 * Milliseconds of a duration, or undefined when it is not one (a negative or non-finite number,
 * a string `ms` cannot read, another type). The one rule behind parseDuration and
 * RetryableError's `retryAfter`; it throws nothing, so errors.ts can use it without a cycle.
 */
export function durationMs(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value : undefined;
  if (typeof value === 'string') {
    const parsed = ms(value as ms.StringValue);
    return typeof parsed === 'number' && Number.isFinite(parsed) && parsed >= 0 ? parsed : undefined;
  }
  return undefined;
}
