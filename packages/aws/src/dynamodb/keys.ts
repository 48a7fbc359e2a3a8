import { createHash } from 'node:crypto';

/**
 * The single-table design. Every item has a string partition key `pk` and sort key `sk`.
 *
 * | pk | sk | item |
 * | --- | --- | --- |
 * | `R#<runId>` | `R` | the run record |
 * | `R#<runId>` | `R#<field>#<blobId>#<n>` | chunk n of a large args / result / error (read with the run in one Query) |
 * | `R#<runId>` | `E#<lastSeq>` | the events of one append (seq after the previous item's lastSeq up to lastSeq) |
 * | `R#<runId>` | `E#<lastSeq>#<blobId>#<n>` | chunk n of a large event payload of that item |
 * | `R#<runId>` | `T#<timerId>` | a timer |
 * | `R#<runId>` | `H#<token>` | pointer to a hook of the run (for retention) |
 * | `R#<runId>` | `C#<stepId>` | a step checkpoint (large values in `C#<stepId>#<blobId>#<n>`) |
 * | `R#<runId>` | `G#<tag>` | the run in the tag index |
 * | `R#<runId>` | `A#<key>` | the run in the search attribute index, under its value of `<key>` |
 * | `K#<workflow>#<key>` | `K` | idempotency key: the run it started |
 * | `H#<token>` | `H` | hook index entry |
 * | `SCHED` | `<scheduleId>` | a schedule |
 * | `L#<key>` | `L` | concurrency slot holders of a key |
 * | `P#<key>` | `P` | rate-limit window of a key |
 * | `META` | `META` | schema version and shard count |
 *
 * Global secondary indexes (all eventually consistent; records are read from the table):
 * - `gwf`: `wf` (workflow) / `ck` — runs of a workflow, newest first.
 * - `gst`: `st` (`<status>#<shard>`) / `ck` — runs by status, spread over shards.
 * - `gal`: `al` (`<shard>`) / `ck` — all runs, spread over shards.
 * - `gpa`: `pr` (parent run id) / `ck` — children of a run (sparse).
 * - `gtg`: `tg` (tag) / `ck` — on the `G#` items: runs carrying a tag; on the `A#` items (`tg` is
 *   `#A#<key>=<typed value>`, which no tag can be as tags have no "#"): runs with that attribute value.
 * - `gdue`: `dk` (`T#<shard>` or `S#<shard>`) / `dt` (claimable from: due time, or lease end) — timers and due schedules.
 * - `gfin`: `fk` (`<shard>`) / `fa` (finishedAt) — finished runs, oldest first, for retention.
 *
 * `ck` is the creation time zero-padded to 15 digits, "#", and the run id: ordering by it is
 * ordering by (createdAt, runId), and a listRuns cursor is a key condition on it.
 */

export const SCHEMA_VERSION = 1;

export const INDEX = {
  workflow: 'gwf',
  status: 'gst',
  all: 'gal',
  parent: 'gpa',
  tag: 'gtg',
  due: 'gdue',
  finished: 'gfin',
} as const;

/** Partition keys are at most 2048 bytes and sort keys 1024: longer user strings are replaced by a hash. */
export function fit(value: string, maxBytes = 900): string {
  if (Buffer.byteLength(value, 'utf8') <= maxBytes) return value;
  return `~sha256:${createHash('sha256').update(value).digest('hex')}`;
}

export const runPk = (runId: string) => `R#${fit(runId)}`;
export const RUN_SK = 'R';
export const eventSk = (lastSeq: number) => `E#${String(lastSeq).padStart(10, '0')}`;
export const EVENTS_END = 'E#~';
export const timerSk = (timerId: string) => `T#${fit(timerId)}`;
export const hookPointerSk = (token: string) => `H#${fit(token)}`;
export const checkpointSk = (stepId: string) => `C#${fit(stepId)}`;
export const tagSk = (tag: string) => `G#${fit(tag)}`;
export const idempotencyPk = (workflow: string, key: string) => `K#${fit(JSON.stringify([workflow, key]), 1800)}`;
export const hookPk = (token: string) => `H#${fit(token)}`;
export const SCHEDULES_PK = 'SCHED';
export const slotPk = (key: string) => `L#${fit(key, 1800)}`;
export const permitPk = (key: string) => `P#${fit(key, 1800)}`;
export const META_PK = 'META';

/** Blob chunk keys sort right after the item that owns them, so one range read returns both. */
export const chunkSk = (ownerSk: string, blobId: string, n: number) => `${ownerSk}#${blobId}#${String(n).padStart(4, '0')}`;

const CK_DIGITS = 15;

export function padTime(ms: number): string {
  const t = Math.max(0, Math.floor(ms));
  return String(t).padStart(CK_DIGITS, '0');
}

/** The listing sort key: (createdAt, runId) as one string that sorts the same way. */
export function createdKey(createdAt: number, runId: string): string {
  return `${padTime(createdAt)}#${fit(runId, 900)}`;
}

/** A stable shard in [0, shards) for spreading index partitions. */
export function shardOf(value: string, shards: number): number {
  const h = createHash('md5').update(value).digest();
  return h.readUInt32BE(0) % shards;
}

export const statusKey = (status: string, shard: number) => `${status}#${shard}`;
export const allKey = (shard: number) => String(shard);
export const finishedKey = (shard: number) => String(shard);
export const timerDueKey = (shard: number) => `T#${shard}`;
export const scheduleDueKey = (shard: number) => `S#${shard}`;
export const workflowKey = (workflow: string) => fit(workflow, 1800);
export const parentKey = (parentRunId: string) => fit(parentRunId, 1800);
export const tagKey = (tag: string) => fit(tag, 1800);
export const attributeSk = (attributeKey: string) => `A#${attributeKey}`;
/** The `gtg` partition of the runs whose attribute `attributeKey` has the typed value `typed` (see attributeIndexValue). */
export const attributeIndexKey = (attributeKey: string, typed: string) => fit(`#A#${attributeKey}=${typed}`, 1800);
