import { InvalidArgumentError } from './errors.js';

/** Keyset cursor for listRuns: the (createdAt, runId) of the last run of a page, base64url JSON. */
export function encodeCursor(createdAt: number, runId: string): string {
  return Buffer.from(JSON.stringify([createdAt, runId])).toString('base64url');
}

/** Reads a cursor made by encodeCursor; InvalidArgumentError when it was not (a tampered or foreign string). */
export function decodeCursor(cursor: string): { createdAt: number; runId: string } {
  try {
    const [createdAt, runId] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [number, string];
    if (typeof createdAt !== 'number' || typeof runId !== 'string') throw new Error('shape');
    return { createdAt, runId };
  } catch {
    throw new InvalidArgumentError(`Invalid listRuns cursor ${JSON.stringify(cursor)}: pass back the nextCursor of a previous page unchanged.`);
  }
}

/** The page size of a listRuns call: 100 when not given, at most 1,000; InvalidArgumentError below 1 or not whole. */
export function pageLimit(limit: number | undefined): number {
  if (limit === undefined) return 100;
  if (!Number.isInteger(limit) || limit < 1) throw new InvalidArgumentError(`listRuns: "limit" must be a whole number >= 1, got ${limit}.`);
  return Math.min(limit, 1000);
}
