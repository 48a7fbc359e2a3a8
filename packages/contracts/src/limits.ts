import { PayloadTooLargeError } from './errors.js';
import { byteSize } from './serialization.js';

/** Protects storage from runaway runs. Set on the client: createClient/new Client({ limits }). */
export interface Limits {
  /** Largest serialized argument list, result or payload. Default 1 MiB. */
  maxPayloadBytes: number;
  /** A run whose log passes this many events logs a warning (once per execution). Default 10,000. */
  warnEvents: number;
  /** A run whose log would pass this many events fails with EventLimitExceededError. Default 50,000. */
  maxEvents: number;
  /**
   * How deep child workflows may nest: a run a client starts is at depth 0, its children at 1, and a
   * startChild that would make a child deeper than this rejects with ChildDepthExceededError. Default 10.
   */
  maxChildDepth: number;
}

/**
 * The limits a client uses when given none: payloads up to 1 MiB, a warning at 10,000 events per
 * run, failure at 50,000, child workflows nested at most 10 deep.
 */
export const DEFAULT_LIMITS: Limits = { maxPayloadBytes: 1024 * 1024, warnEvents: 10_000, maxEvents: 50_000, maxChildDepth: 10 };

/**
 * Returns `serialized` unchanged when it fits `limits.maxPayloadBytes` (counted as UTF-8 bytes);
 * else throws `PayloadTooLargeError`, naming `what` (such as `'step "charge" result'`) and both sizes.
 */
export function checkPayload(serialized: string, what: string, limits: Pick<Limits, 'maxPayloadBytes'>): string {
  const bytes = byteSize(serialized);
  if (bytes > limits.maxPayloadBytes) throw new PayloadTooLargeError(what, bytes, limits.maxPayloadBytes);
  return serialized;
}

/**
 * The fixed limits of search attributes (`setAttributes`): at most `maxPerRun` attributes on a run,
 * keys of at most `maxKeyLength` characters (see `ATTRIBUTE_KEY_PATTERN`), string values of at most
 * `maxStringLength` characters. Fixed rather than configurable so every replay of a run decides alike.
 */
export const ATTRIBUTE_LIMITS = { maxPerRun: 32, maxKeyLength: 64, maxStringLength: 256 } as const;
