import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { StorageError, type DurablyEvent } from '@durably/contracts';
import { assemble, makeBlob, readRef, refValue, type BlobRef, type PendingBlob } from './blobs.js';
import { N, S, type Item } from './dynamo.js';
import { eventSk } from './keys.js';
import { fromMap, toMap } from './codec.js';

/**
 * Events are stored by append, not one item per event: the events of one append share an item keyed
 * by the seq of their last event (`E#<lastSeq>`), so a range read from `E#<fromSeq>` starts with the
 * item that holds `fromSeq`. An event is a map { s seq, t type, c correlationId, a at, d data }; data
 * larger than INLINE_EVENT_BYTES is kept as JSON in chunks (`db` refers to them). An append too big
 * for one transaction keeps its whole list as JSON in chunks (`evb`), and its item holds only that.
 */
export const INLINE_EVENT_BYTES = 32 * 1024;
/** Events packed into one item up to this many bytes (items are at most 400 KB). */
const ITEM_BUDGET = 300 * 1024;
/** Above this many bytes of event items, one append's events go to chunks (a transaction is at most 4 MB). */
const TX_EVENTS_BUDGET = 2 * 1024 * 1024;
const MAX_EVENT_ITEMS = 8;

export interface EncodedEvents {
  items: Item[];
  blobs: PendingBlob[];
  bytes: number;
}

const bytesOf = (s: string) => Buffer.byteLength(s, 'utf8');

function entry(e: DurablyEvent, data: AttributeValue | undefined, ref?: BlobRef): AttributeValue {
  const m: Record<string, AttributeValue> = { s: N(e.seq), t: S(e.type), a: N(e.at) };
  if (e.correlationId !== undefined) m.c = S(e.correlationId);
  if (ref) m.db = refValue(ref);
  else if (data) m.d = data;
  return { M: m };
}

/** The items (and chunks, to be written first) holding the events of one append. */
export function encodeEvents(pk: string, events: DurablyEvent[]): EncodedEvents {
  if (events.length === 0) return { items: [], blobs: [], bytes: 0 };
  const sized = events.map((e) => {
    const json = JSON.stringify(e.data ?? {});
    return { e, json, bytes: bytesOf(json) + 64 + (e.correlationId?.length ?? 0) + e.type.length };
  });
  const groups: (typeof sized)[] = [];
  let current: typeof sized = [];
  let currentBytes = 0;
  let total = 0;
  for (const s of sized) {
    const size = s.bytes > INLINE_EVENT_BYTES ? 128 : s.bytes;
    total += size;
    if (current.length > 0 && currentBytes + size > ITEM_BUDGET) {
      groups.push(current);
      current = [];
      currentBytes = 0;
    }
    current.push(s);
    currentBytes += size;
  }
  groups.push(current);
  const last = events[events.length - 1].seq;
  if (groups.length > MAX_EVENT_ITEMS || total > TX_EVENTS_BUDGET) {
    // Too much for the transaction: the whole list in chunks, one small item refers to them.
    const sk = eventSk(last);
    const blob = makeBlob(pk, sk, JSON.stringify(events.map(({ runId: _runId, ...rest }) => rest)));
    return { items: [{ pk: S(pk), sk: S(sk), evb: refValue(blob.ref), f: N(events[0].seq) }], blobs: [blob], bytes: 256 };
  }
  const blobs: PendingBlob[] = [];
  const items = groups.map((group) => {
    const sk = eventSk(group[group.length - 1].e.seq);
    const list = group.map((s) => {
      if (s.bytes <= INLINE_EVENT_BYTES) return entry(s.e, toMap(s.e.data ?? {}));
      const blob = makeBlob(pk, sk, s.json);
      blobs.push(blob);
      return entry(s.e, undefined, blob.ref);
    });
    return { pk: S(pk), sk: S(sk), ev: { L: list }, f: N(group[0].e.seq) } as Item;
  });
  return { items, blobs, bytes: total };
}

/**
 * The events held by event items (and their chunks) in sk order, from `fromSeq`. `chunksOf` reads the
 * chunks of an item that the range read did not return (its page ended before them).
 */
export async function decodeEvents(runId: string, items: Item[], fromSeq: number, chunksOf: (ownerSk: string, ref: BlobRef) => Promise<Item[]>): Promise<DurablyEvent[]> {
  const out: DurablyEvent[] = [];
  const text = async (ownerSk: string, ref: BlobRef): Promise<string> => {
    const prefix = `${ownerSk}#${ref.id}#`;
    const have = items.filter((i) => i.sk?.S?.startsWith(prefix));
    return assemble(have.length === ref.n ? have : await chunksOf(ownerSk, ref), ownerSk, ref, `An event of run ${runId}`);
  };
  for (const item of items) {
    const sk = item.sk?.S ?? '';
    if (!/^E#\d{10}$/.test(sk)) continue;
    const whole = readRef(item.evb);
    if (whole) {
      const list = JSON.parse(await text(sk, whole)) as Array<Omit<DurablyEvent, 'runId'>>;
      for (const e of list) if (e.seq >= fromSeq) out.push({ runId, ...e } as DurablyEvent);
      continue;
    }
    for (const v of item.ev?.L ?? []) {
      const m = v.M ?? {};
      const seq = Number(m.s?.N);
      if (seq < fromSeq) continue;
      const ref = readRef(m.db);
      const data = ref ? JSON.parse(await text(sk, ref)) : fromMap(m.d);
      const event = { runId, seq, type: m.t?.S, at: Number(m.a?.N), data } as DurablyEvent;
      if (m.c?.S !== undefined) event.correlationId = m.c.S;
      out.push(event);
    }
  }
  for (let i = 1; i < out.length; i++) {
    if (out[i].seq !== out[i - 1].seq + 1) throw new StorageError(`The log of run ${runId} has a gap after seq ${out[i - 1].seq}; the table was changed outside Durably.`);
  }
  return out;
}
