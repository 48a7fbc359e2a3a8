import { QueryCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { RUN_STATUSES, attributeIndexValue, attributesMatch, decodeCursor, encodeCursor, pageLimit, type RunFilter, type RunPage, type RunRecord, type RunStatus } from '@durably/contracts';
import { recordOf } from './runs.js';
import { S, key, type Dynamo, type Item } from './dynamo.js';
import { INDEX, RUN_SK, attributeIndexKey, allKey, createdKey, padTime, parentKey, statusKey, tagKey, workflowKey } from './keys.js';

/** One index partition to walk, newest first. */
interface Source {
  index: string;
  hash: string;
  value: string;
  /** Extra condition on projected attributes (the status index carries the workflow). */
  workflow?: string;
}

/**
 * Picks the index partitions that hold every run the filter can match, most selective first: a
 * parent's children, a search attribute value, a tag, a workflow, statuses (one partition per status and shard), or all runs
 * (one per shard). The other filters are checked on the records.
 */
export function sources(filter: RunFilter, statuses: RunStatus[] | undefined, shards: number): Source[] {
  const range = (n: number) => Array.from({ length: n }, (_, i) => i);
  if (filter.parentRunId !== undefined) return [{ index: INDEX.parent, hash: 'pr', value: parentKey(filter.parentRunId) }];
  const [attribute] = Object.entries(filter.attributes ?? {});
  if (attribute) return [{ index: INDEX.tag, hash: 'tg', value: attributeIndexKey(attribute[0], attributeIndexValue(attribute[1])) }];
  if (filter.tags?.length) return [{ index: INDEX.tag, hash: 'tg', value: tagKey(filter.tags[0]) }];
  if (statuses) return statuses.flatMap((s) => range(shards).map((n) => ({ index: INDEX.status, hash: 'st', value: statusKey(s, n), workflow: filter.workflow })));
  if (filter.workflow !== undefined) return [{ index: INDEX.workflow, hash: 'wf', value: workflowKey(filter.workflow) }];
  return range(shards).map((n) => ({ index: INDEX.all, hash: 'al', value: allKey(n) }));
}

interface Candidate {
  ck: string;
  pk: AttributeValue;
}

/** A paginated Query of one source, consumed head first. */
class Stream {
  buffer: Candidate[] = [];
  private next?: Record<string, AttributeValue>;
  done = false;

  constructor(
    private readonly db: Dynamo,
    private readonly source: Source,
    private readonly lo: string,
    private readonly hi: string,
    private readonly pageSize: number,
  ) {}

  async fill(): Promise<void> {
    while (this.buffer.length === 0 && !this.done) {
      const names: Record<string, string> = { '#h': this.source.hash, '#ck': 'ck' };
      const values: Record<string, AttributeValue> = { ':h': S(this.source.value), ':lo': S(this.lo), ':hi': S(this.hi) };
      let filter: string | undefined;
      if (this.source.workflow !== undefined) {
        names['#wf'] = 'wf';
        values[':wf'] = S(workflowKey(this.source.workflow));
        filter = '#wf = :wf';
      }
      const out = await this.db.send<{ Items?: Item[]; LastEvaluatedKey?: Record<string, AttributeValue> }>(
        'list runs',
        new QueryCommand({
          TableName: this.db.table,
          IndexName: this.source.index,
          KeyConditionExpression: '#h = :h AND #ck BETWEEN :lo AND :hi',
          FilterExpression: filter,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ScanIndexForward: false,
          Limit: this.pageSize,
          ExclusiveStartKey: this.next,
        }),
      );
      for (const i of out.Items ?? []) this.buffer.push({ ck: i.ck.S!, pk: i.pk });
      this.next = out.LastEvaluatedKey;
      if (!this.next) this.done = true;
    }
  }
}

/** Yields candidates of all sources merged in descending ck order (each run once). */
async function* merged(streams: Stream[]): AsyncGenerator<Candidate> {
  const seen = new Set<string>();
  for (;;) {
    await Promise.all(streams.map((s) => s.fill()));
    let best: Stream | undefined;
    for (const s of streams) if (s.buffer.length && (!best || s.buffer[0].ck > best.buffer[0].ck)) best = s;
    if (!best) return;
    const c = best.buffer.shift()!;
    if (seen.has(c.pk.S!)) continue;
    seen.add(c.pk.S!);
    yield c;
  }
}

function matcher(filter: RunFilter, statuses: RunStatus[] | undefined): (r: RunRecord) => boolean {
  return (r) =>
    (filter.workflow === undefined || r.workflow === filter.workflow) &&
    (!statuses || statuses.includes(r.status)) &&
    (filter.parentRunId === undefined || r.parentRunId === filter.parentRunId) &&
    (filter.createdAfter === undefined || r.createdAt >= filter.createdAfter) &&
    (filter.createdBefore === undefined || r.createdAt < filter.createdBefore) &&
    (filter.updatedBefore === undefined || r.updatedAt < filter.updatedBefore) &&
    (!filter.tags?.length || filter.tags.every((t) => r.tags?.includes(t))) &&
    attributesMatch(r.attributes, filter.attributes);
}

/**
 * listRuns: the index partitions of the filter are walked newest first and merged on `ck`
 * ((createdAt, runId) as one sortable string); candidates are read from the table in batches of up to
 * 100 and checked against every filter. The cursor is the (createdAt, runId) of the last run of a page,
 * so the next page starts strictly below it: paging is stable while runs are created (they sort above
 * the cursor) and a run is never returned twice. Indexes and batch reads are eventually consistent:
 * a run created or changed in the last moment may be missing or show its previous status.
 */
export async function listRuns(db: Dynamo, filter: RunFilter, shards: number): Promise<RunPage> {
  const limit = pageLimit(filter.limit);
  const statuses = filter.status === undefined ? undefined : (Array.isArray(filter.status) ? filter.status : [filter.status]).filter((s) => RUN_STATUSES.includes(s));
  if (statuses && statuses.length === 0) return { runs: [] };
  const cursor = filter.cursor ? decodeCursor(filter.cursor) : undefined;
  const cursorCk = cursor ? createdKey(cursor.createdAt, cursor.runId) : undefined;
  const lo = padTime(filter.createdAfter ?? 0);
  let hi = filter.createdBefore !== undefined ? padTime(filter.createdBefore) : '~';
  if (cursorCk !== undefined && cursorCk < hi) hi = cursorCk;
  if (lo > hi) return { runs: [] };
  const streams = sources(filter, statuses, shards).map((s) => new Stream(db, s, lo, hi, Math.min(1000, limit + 1)));
  const matches = matcher(filter, statuses);
  const found: RunRecord[] = [];
  const iterator = merged(streams);
  let exhausted = false;
  while (found.length <= limit && !exhausted) {
    const batch: Candidate[] = [];
    while (batch.length < Math.min(100, limit + 1 - found.length + 10)) {
      const next = await iterator.next();
      if (next.done) {
        exhausted = true;
        break;
      }
      // BETWEEN includes its upper bound: the cursor's own run belongs to the previous page.
      if (next.value.ck === cursorCk) continue;
      batch.push(next.value);
    }
    if (batch.length === 0) break;
    const items = await db.batchGet('list runs', batch.map((c) => ({ pk: c.pk, sk: key('', RUN_SK).sk })));
    const byPk = new Map(items.map((i) => [i.pk.S!, i]));
    for (const c of batch) {
      const item = byPk.get(c.pk.S!);
      // No run item: a tag item written ahead of a create that then did not happen, or a run deleted since.
      if (!item) continue;
      const record = await recordOf(db, item);
      if (record && matches(record)) found.push(record);
    }
  }
  const runs = found.slice(0, limit);
  const last = runs[runs.length - 1];
  return found.length > limit && last ? { runs, nextCursor: encodeCursor(last.createdAt, last.runId) } : { runs };
}
