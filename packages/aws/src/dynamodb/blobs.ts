import { randomBytes } from 'node:crypto';
import type { WriteRequest } from '@aws-sdk/client-dynamodb';
import { StorageError } from '@durably/contracts';
import { chunkSk } from './keys.js';
import { S, type Dynamo, type Item } from './dynamo.js';

/**
 * Values too large to sit in their item (DynamoDB items are at most 400 KB) are stored as "blobs":
 * the string is cut into chunk items written next to the item that refers to them (see keys.ts), so
 * the range read that fetches the item fetches its chunks too.
 *
 * Chunks are always written before the item that refers to them (with BatchWriteItem, outside the
 * append's transaction): a reader that sees the reference finds every chunk, and a write that then
 * loses its race leaves only chunks nobody refers to, which it deletes (a crash in between leaves
 * them for retention; readers ignore chunks they are not referred to).
 */

/** Bytes of UTF-8 per chunk item: well under the 400 KB item limit with the keys and names. */
export const CHUNK_BYTES = 350_000;

export interface BlobRef {
  /** Random id, unique per written value: the chunks of a value never mix with another's. */
  id: string;
  /** Number of chunks. */
  n: number;
}

export interface PendingBlob {
  ref: BlobRef;
  items: Item[];
}

export const newBlobId = (): string => randomBytes(6).toString('base64url');

/** Cuts a string into pieces of at most `maxBytes` UTF-8 bytes without splitting a character. */
export function chunkString(value: string, maxBytes = CHUNK_BYTES): string[] {
  const buf = Buffer.from(value, 'utf8');
  if (buf.length <= maxBytes) return [value];
  const out: string[] = [];
  let start = 0;
  while (start < buf.length) {
    let end = Math.min(start + maxBytes, buf.length);
    // Back off continuation bytes (10xxxxxx) so that a chunk ends on a character boundary.
    while (end < buf.length && (buf[end] & 0xc0) === 0x80) end--;
    out.push(buf.toString('utf8', start, end));
    start = end;
  }
  return out;
}

/** The chunk items of `value`, owned by the item at (pk, ownerSk). */
export function makeBlob(pk: string, ownerSk: string, value: string): PendingBlob {
  const id = newBlobId();
  const parts = chunkString(value);
  return {
    ref: { id, n: parts.length },
    items: parts.map((part, n) => ({ pk: S(pk), sk: S(chunkSk(ownerSk, id, n)), v: S(part) })),
  };
}

export function refValue(ref: BlobRef): Item[string] {
  return { M: { i: S(ref.id), n: { N: String(ref.n) } } };
}

export function readRef(value: Item[string] | undefined): BlobRef | undefined {
  const m = value?.M;
  if (!m?.i?.S || !m.n?.N) return undefined;
  return { id: m.i.S, n: Number(m.n.N) };
}

/** Joins the chunks of `ref` found among `items` (the range read that returned the owner). */
export function assemble(items: Item[], ownerSk: string, ref: BlobRef, what: string): string {
  const prefix = `${ownerSk}#${ref.id}#`;
  const parts = items.filter((i) => i.sk?.S?.startsWith(prefix)).sort((a, b) => (a.sk.S! < b.sk.S! ? -1 : 1));
  if (parts.length !== ref.n) throw new StorageError(`${what}: ${parts.length} of its ${ref.n} stored chunks were found; the table was changed outside Durably.`);
  return parts.map((p) => p.v?.S ?? '').join('');
}

/** Writes chunk items (idempotent puts), before the write that refers to them. */
export async function stageBlobs(db: Dynamo, what: string, blobs: PendingBlob[]): Promise<void> {
  const requests: WriteRequest[] = blobs.flatMap((b) => b.items.map((Item) => ({ PutRequest: { Item } })));
  if (requests.length > 0) await db.batchWrite(what, requests);
}

/** Deletes chunk items nobody refers to (a lost race, a replaced value). Best effort: readers ignore them anyway. */
export async function dropBlobs(db: Dynamo, blobs: Array<{ items: Item[] }>): Promise<void> {
  const requests: WriteRequest[] = blobs.flatMap((b) => b.items.map((i) => ({ DeleteRequest: { Key: { pk: i.pk, sk: i.sk } } })));
  if (requests.length > 0) await db.batchWrite('delete unused chunks', requests).catch(() => undefined);
}
