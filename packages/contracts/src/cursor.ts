import { InvalidArgumentError } from './errors.js';

/** Keyset cursor for listRuns: the (createdAt, runId) of the last run of a page, base64url JSON. */
export function encodeCursor(createdAt: number, runId: string): string {
  return Buffer.from(JSON.stringify([createdAt, runId])).toString('base64url');
}

/**
 * Reads a cursor made by {@link encodeCursor}. Throws `InvalidArgumentError` when it is not one
 * (it was changed, or comes from elsewhere).
 */
export function decodeCursor(cursor: string): { createdAt: number; runId: string } {
  try {
    const [createdAt, runId] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [number, string];
    if (typeof createdAt !== 'number' || typeof runId !== 'string') throw new Error('shape');
    return { createdAt, runId };
  } catch {
    throw new InvalidArgumentError(`Invalid listRuns cursor ${JSON.stringify(cursor)}: pass back the nextCursor of a previous page unchanged.`);
  }
}

/**
 * The page size a storage uses for `listRuns({ limit })`: 100 when unset, capped at 1,000.
 * Throws `InvalidArgumentError` unless it is a whole number >= 1.
 */
export function pageLimit(limit: number | undefined): number {
  if (limit === undefined) return 100;
  if (!Number.isInteger(limit) || limit < 1) throw new InvalidArgumentError(`listRuns: "limit" must be a whole number >= 1, got ${limit}.`);
  return Math.min(limit, 1000);
}
