import { InvalidArgumentError } from '@durably/contracts';
import { keyPrefix } from './connection.js';

/** Buckets a prefix's runs are spread over on a Redis Cluster, unless `buckets` says otherwise. */
export const DEFAULT_BUCKETS = 16;

/**
 * Where each of Durably's keys lives. A key's hash tag (the part in braces) decides its cluster slot,
 * and a Lua script or MULTI may only touch keys of one slot, so the tags follow what is written together:
 *
 * - single Redis (`buckets` 1): every key has the tag `{prefix}`, the layout of every release so far;
 * - Redis Cluster: a run and everything that only it writes (hash, events, timers, hooks, checkpoints)
 *   lives in one of N buckets, tag `{prefix~b}` with b = FNV-1a(runId) mod N, together with that
 *   bucket's share of the run indexes, timer set and retention index: an append stays one atomic
 *   script, and reads that span runs fan out over the N buckets. Idempotency keys and hook locators
 *   are bucketed by their own hash; schedules, concurrency slots and rate permits keep the home tag
 *   `{prefix}`; each broker queue has a tag of its own, `{prefix/queue}`.
 */
export class KeyLayout {
  /** `{prefix}`: schedules, slots, permits, the layout record, the finished-runs channel. */
  readonly home: string;
  readonly buckets: number;

  constructor(
    readonly prefix: string | undefined,
    readonly clustered: boolean,
    buckets = DEFAULT_BUCKETS,
  ) {
    this.home = keyPrefix(prefix);
    if (!Number.isInteger(buckets) || buckets < 1 || buckets > 1024) {
      throw new InvalidArgumentError(`Redis Cluster buckets must be a whole number from 1 to 1024, not ${JSON.stringify(buckets)}.`);
    }
    this.buckets = clustered ? buckets : 1;
  }

  /** The tag of bucket b (`{prefix}` on a single Redis). */
  bucketTag(b: number): string {
    return this.clustered ? `{${this.home.slice(1, -1)}~${b}}` : this.home;
  }

  /** Every bucket's tag, for reads that span runs. */
  allBuckets(): string[] {
    return Array.from({ length: this.buckets }, (_, b) => this.bucketTag(b));
  }

  /** The tag of the bucket that holds a run and its share of the indexes. */
  runTag(runId: string): string {
    return this.bucketTag(bucketOf(runId, this.buckets));
  }

  /** The tag of an idempotency key's entry (the run's own bucket on a single Redis). */
  idemTag(workflow: string, idempotencyKey: string): string {
    return this.bucketTag(bucketOf(`${workflow}\u0000${idempotencyKey}`, this.buckets));
  }

  /** On a cluster, the key that says which run a hook token belongs to (the record lives in the run's bucket). */
  hookLocator(token: string): string {
    return `${this.bucketTag(bucketOf(token, this.buckets))}:hookloc:${token}`;
  }

  /** The tag of a broker queue's keys: stream, delayed set, dead letters and dedup keys share it. */
  queueTag(queue: string): string {
    return this.clustered ? `{${this.home.slice(1, -1)}/${queue}}` : this.home;
  }

  /** What the layout record says of this layout (see RedisStorage.migrate). */
  describe(): string {
    return this.clustered ? `cluster buckets=${this.buckets}` : 'single';
  }
}

/** FNV-1a (32 bits) of the UTF-16 code units, mod n: stable across releases and processes. */
export function bucketOf(value: string, n: number): number {
  if (n === 1) return 0;
  let h = 0x811c9dc5;
  for (let i = 0; i < value.length; i++) {
    h ^= value.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % n;
}
