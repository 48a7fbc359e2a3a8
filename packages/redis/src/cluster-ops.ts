import { FINISHED_STATUSES, StorageError, type NewRun, type RunRecord, type Timer } from '@durably/contracts';
import type { KeyLayout } from './layout.js';
import type { Call } from './runs-query.js';
import type { Scripted } from './scripts.js';

/**
 * How long an idempotency entry may point to a run that does not exist before another create of the
 * key gives that run up (its creator claimed the key, then died before creating the run).
 */
export const CLAIM_GRACE_MS = 5_000;
/** A given-up run id stays unusable this long (far beyond any stall of its creator). */
const VOID_TTL_MS = 7 * 86_400_000;
/** A full concurrency key has its holders checked at most this often per process. */
const SLOT_REPAIR_EVERY_MS = 1_000;

/**
 * What spans slots on a Redis Cluster, where a script may only touch keys of one slot. The log append
 * of a run stays one atomic script in the run's bucket; what lives elsewhere is written by commands of
 * its own, in an order that leaves nothing lost after a crash between them, and read so that what a
 * crash leaves behind is tolerated or repaired:
 *
 * - idempotency entry (its key's bucket) before the run: IDEM_CLAIM, then CREATE_RUN. An entry left
 *   pointing to a run never created is taken over after CLAIM_GRACE_MS, once VOID_RUN has made sure
 *   that run can no longer be created (so a stalled creator cannot make a second run of the key);
 * - hook locator (the token's bucket) before the append that creates the hook: a locator without a
 *   hook record reads as no hook; the record itself is written by the append, atomically;
 * - slots (home slot) released after the append that finishes the run: a finished run that still
 *   holds slots gives them back when an acquire finds the key full (repairSlot);
 * - retention deletes the run in its bucket, then its idempotency entry (if still its own) and its
 *   hook locators: leftovers point to a missing run, which readers treat as none.
 */
export class ClusterOps {
  private rotor = 0;
  private readonly repairedAt = new Map<string, number>();

  constructor(
    private readonly redis: Scripted,
    private readonly L: KeyLayout,
    private readonly call: Call,
    private readonly getRun: (runId: string) => Promise<RunRecord | undefined>,
  ) {}

  /** Records the layout at first use and refuses a client whose bucket count differs: runs would be looked for in the wrong buckets. */
  async checkLayout(): Promise<void> {
    const key = `${this.L.home}:layout`;
    const want = this.L.describe();
    await this.call('record the key layout', () => this.redis.set(key, want, 'NX'));
    const have = await this.call('read the key layout', () => this.redis.get(key));
    if (have !== want) {
      throw new StorageError(
        `Redis Cluster prefix "${this.L.prefix ?? 'durably'}" was laid out as "${have}", but this client uses "${want}": give it the same buckets (a different count would look for runs in the wrong buckets).`,
      );
    }
  }

  private idemKey(workflow: string, idempotencyKey: string): string {
    return `${this.L.idemTag(workflow, idempotencyKey)}:idem:${workflow}`;
  }

  /** The run an idempotency key points to, or null. */
  async idemEntry(workflow: string, idempotencyKey: string): Promise<string | null> {
    const raw = await this.call('read an idempotency key', () => this.redis.hget(this.idemKey(workflow, idempotencyKey), idempotencyKey));
    return raw === null ? null : entryRunId(raw);
  }

  /**
   * An idempotent create: claims the key, then creates the run. Returns the run that already had the
   * key (created: false), or undefined when this run was created.
   */
  async createWithKey(run: NewRun, create: () => Promise<string[]>): Promise<RunRecord | undefined> {
    const key = run.idempotencyKey!;
    const entry = this.idemKey(run.workflow, key);
    const deadline = Date.now() + 6 * CLAIM_GRACE_MS;
    let stale = '';
    while (Date.now() < deadline) {
      const [state, holder, age] = await this.call('claim an idempotency key', () => this.redis.durablyIdemClaim(entry, key, run.runId, stale));
      stale = '';
      if (state === 'claimed') {
        const [status] = await create();
        if (status === 'created') return undefined;
        const found = await this.getRun(run.runId);
        if (found) return found; // this very run, created by an earlier attempt
        // Given up by another create of the key while this one stalled: that create's run is the one.
        await pause(20);
        continue;
      }
      const found = await this.getRun(holder);
      if (found) return found;
      // Its creator is between the claim and the create, or died there: wait for it, then give it up.
      if (Number(age) < CLAIM_GRACE_MS) {
        await pause(20);
        continue;
      }
      const voided = await this.call('give up a stale idempotency claim', () => this.redis.durablyVoidRun(`${this.L.runTag(holder)}:run:${holder}`, VOID_TTL_MS));
      if (voided === 'voided') stale = holder;
    }
    // The key points to this run, which was given up (by a create that died before taking the key over).
    await this.call('release an idempotency key', () => this.redis.durablyIdemRelease(entry, key, run.runId));
    throw new StorageError(`Create run ${run.runId} (idempotency key ${JSON.stringify(key)}): the run id was given up by a concurrent create of the same key; create again with a new run id.`);
  }

  /** Writes the locators of hooks an append is about to set (token -> run), with the hook entry's expiry. */
  async locateHooks(runId: string, hooks: ReadonlyArray<readonly [string, string, number]>): Promise<void> {
    await Promise.all(
      hooks.map(([token, , pexpireAt]) =>
        this.call('record a hook', () => (pexpireAt > 0 ? this.redis.set(this.L.hookLocator(token), runId, 'PXAT', pexpireAt) : this.redis.set(this.L.hookLocator(token), runId))),
      ),
    );
  }

  /**
   * Releases the slots of a run whose finishing append is in. A failure here is left to repairSlot:
   * the append has happened, and failing it now would make the caller retry what is done.
   */
  async releaseSlots(runId: string): Promise<void> {
    const P = this.L.home;
    await this.redis.durablyReleaseSlots(`${P}:slots-of:${runId}`, P, runId).catch(() => undefined);
  }

  /** A full key: holders that have finished (or are gone) give their slots back. True when one was freed. */
  async repairSlot(key: string, runId: string): Promise<boolean> {
    const now = Date.now();
    if (now - (this.repairedAt.get(key) ?? 0) < SLOT_REPAIR_EVERY_MS) return false;
    this.repairedAt.set(key, now);
    const holders = await this.call('check slot holders', () => this.redis.smembers(`${this.L.home}:slot:${key}`));
    let freed = false;
    for (const holder of holders) {
      if (holder === runId) continue;
      const run = await this.getRun(holder);
      if (run && !FINISHED_STATUSES.has(run.status)) continue;
      await this.releaseSlots(holder);
      freed = true;
    }
    return freed;
  }

  /** Due timers of every bucket: counted in one go, then claimed bucket by bucket (from a rotating start) up to the limit. */
  async claimDueTimers(now: number, options: { limit: number; leaseMs: number }, claimIn: (P: string, now: number, limit: number, leaseMs: number) => Promise<Timer[]>): Promise<Timer[]> {
    const tags = this.L.allBuckets();
    const counts = await Promise.all(tags.map((P) => this.call('claim timers', () => this.redis.zcount(`${P}:timers`, '-inf', now))));
    const out: Timer[] = [];
    const start = this.rotor++ % tags.length;
    for (let i = 0; i < tags.length && out.length < options.limit; i++) {
      const b = (start + i) % tags.length;
      if (counts[b] > 0) out.push(...(await claimIn(tags[b], now, options.limit - out.length, options.leaseMs)));
    }
    return out;
  }

  /** Retention, bucket by bucket (from a rotating start), then each deleted run's idempotency entry and hook locators. */
  async deleteFinishedRuns(finishedBefore: number, limit: number): Promise<number> {
    const tags = this.L.allBuckets();
    const start = this.rotor++ % tags.length;
    let total = 0;
    for (let i = 0; i < tags.length && total < limit; i++) {
      const P = tags[(start + i) % tags.length];
      const raw = await this.call('delete finished runs', () => this.redis.durablyDeleteFinished(`${P}:idx:finished`, P, finishedBefore, limit - total, '1'));
      const gone = JSON.parse(String(raw)) as Array<[string, string, string, string[] | Record<string, never>]>;
      total += gone.length;
      await Promise.all(
        gone.flatMap(([runId, workflow, idem, tokens]) => [
          ...(idem ? [this.call('delete finished runs', () => this.redis.durablyIdemRelease(this.idemKey(workflow, idem), idem, runId))] : []),
          ...(Array.isArray(tokens) ? tokens : []).map((token) => this.call('delete finished runs', () => this.redis.del(this.L.hookLocator(token)))),
        ]),
      );
    }
    return total;
  }
}

/** An entry is `runId|claimedAtMs` (IDEM_CLAIM). */
function entryRunId(raw: string): string {
  const i = raw.lastIndexOf('|');
  return i < 0 ? raw : raw.slice(0, i);
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
