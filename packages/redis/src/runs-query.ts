import {
  decodeCursor,
  encodeCursor,
  pageLimit,
  attributeIndexValue,
  attributeFromIndexValue,
  attributesMatch,
  type RunFilter,
  type RunPage,
  type RunRecord,
  type RunStatus,
} from '@durably/contracts';
import type { RedisClient } from './connection.js';

/** Runs a command, turning its failure into the storage's error (RedisStorage's `call`). */
export type Call = <T>(what: string, fn: () => Promise<T>) => Promise<T>;

/**
 * A page of runs. Each tag (one on a single Redis, every bucket on a cluster) holds its own share of
 * the indexes, walked on its own from the cursor down; the shares are then merged in the order of the
 * page (newest first). Every bucket's share of the page is within its first limit+1 matches, so the
 * merge is exact.
 */
export async function listRunsIn(redis: RedisClient, tags: string[], call: Call, filter: RunFilter = {}): Promise<RunPage> {
  const limit = pageLimit(filter.limit);
  const statuses = filter.status === undefined ? undefined : Array.isArray(filter.status) ? filter.status : [filter.status];
  const attributeFilter = Object.entries(filter.attributes ?? {});
  // The most selective index drives the walk; the other filters are checked on each record.
  const indexesOf = (P: string) =>
    filter.parentRunId !== undefined
      ? [`${P}:idx:parent:${filter.parentRunId}`]
      : attributeFilter.length > 0
        ? [`${P}:idx:attr:${attributeFilter[0][0]}:${attributeIndexValue(attributeFilter[0][1])}`]
        : filter.workflow !== undefined
          ? [`${P}:idx:wf:${filter.workflow}`]
          : filter.tags?.length
            ? [`${P}:idx:tag:${filter.tags[0]}`]
            : statuses
              ? statuses.map((s) => `${P}:idx:st:${s}`)
              : [`${P}:idx:all`];
  const cursor = filter.cursor ? decodeCursor(filter.cursor) : undefined;
  const start = cursor ? `(${String(cursor.createdAt).padStart(16, '0')}:${cursor.runId}` : '+';
  const matches = (r: RunRecord) =>
    (filter.workflow === undefined || r.workflow === filter.workflow) &&
    (!statuses || statuses.includes(r.status)) &&
    (filter.parentRunId === undefined || r.parentRunId === filter.parentRunId) &&
    (filter.createdAfter === undefined || r.createdAt >= filter.createdAfter) &&
    (filter.createdBefore === undefined || r.createdAt < filter.createdBefore) &&
    (filter.updatedBefore === undefined || r.updatedAt < filter.updatedBefore) &&
    (!filter.tags?.length || filter.tags.every((t) => r.tags?.includes(t))) &&
    attributesMatch(r.attributes, filter.attributes);
  const walk = async (P: string, index: string): Promise<RunRecord[]> => {
    const found: RunRecord[] = [];
    let from = start;
    for (;;) {
      const members = await call('list runs', () => redis.zrevrangebylex(index, from, '-', 'LIMIT', 0, Math.max(100, limit + 1)));
      if (members.length === 0) break;
      // The records share the index's tag: one pipeline, one slot.
      const pipeline = redis.pipeline();
      for (const m of members) pipeline.hgetall(`${P}:run:${m.slice(17)}`);
      const results = (await call('list runs', () => pipeline.exec())) ?? [];
      results.forEach(([, h], i) => {
        const record = toRecord(members[i].slice(17), h as Record<string, string>);
        if (record && matches(record)) found.push(record);
      });
      if (found.length > limit) break;
      from = `(${members[members.length - 1]}`;
      if (filter.createdAfter !== undefined && Number(members[members.length - 1].slice(0, 16)) < filter.createdAfter) break;
    }
    return found;
  };
  const shares = await Promise.all(tags.flatMap((P) => indexesOf(P).map((index) => walk(P, index))));
  const found = shares.flat();
  found.sort((a, b) => b.createdAt - a.createdAt || (a.runId < b.runId ? 1 : a.runId > b.runId ? -1 : 0));
  const runs = found.slice(0, limit);
  const last = runs[runs.length - 1];
  return found.length > limit && last ? { runs, nextCursor: encodeCursor(last.createdAt, last.runId) } : { runs };
}

/** A run hash as a record; undefined when there is no run (no hash, or the marker VOID_RUN leaves). */
export function toRecord(runId: string, h: Record<string, string>): RunRecord | undefined {
  if (!h || h.workflow === undefined) return undefined;
  const record: RunRecord = {
    runId,
    workflow: h.workflow,
    status: h.status as RunStatus,
    queue: h.queue,
    args: h.args,
    createdAt: Number(h.createdAt),
    updatedAt: Number(h.updatedAt),
    lastSeq: Number(h.lastSeq),
  };
  if (h.result !== undefined) record.result = h.result;
  if (h.error !== undefined) record.error = JSON.parse(h.error);
  if (h.idempotencyKey !== undefined) record.idempotencyKey = h.idempotencyKey;
  if (h.parentRunId !== undefined) record.parentRunId = h.parentRunId;
  if (h.startAt !== undefined) record.startAt = Number(h.startAt);
  if (h.finishedAt !== undefined) record.finishedAt = Number(h.finishedAt);
  if (h.tags !== undefined) record.tags = JSON.parse(h.tags) as string[];
  for (const [field, value] of Object.entries(h)) {
    if (field.startsWith('a:')) (record.attributes ??= {})[field.slice(2)] = attributeFromIndexValue(value);
  }
  return record;
}
