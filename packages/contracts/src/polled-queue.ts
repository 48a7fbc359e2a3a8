import type { Delivery, MessageHandler } from './broker.js';
import { deadLetterReason } from './failures.js';

/**
 * A queue kept in a table (SQLite, Postgres): what {@link PolledConsumer} needs of it. A claimed
 * message stays in the table, invisible until its lease ends; acking deletes it. Methods may be
 * synchronous underneath; they are awaited.
 */
export interface PolledQueue {
  /** True once the broker is closed: nothing more is claimed, acked or extended. */
  readonly isClosed: boolean;
  /**
   * Claims up to `limit` messages visible at `now`: each becomes invisible until `leaseUntil` and its
   * delivery count goes up by one. Returns them with their new count; a queue that can tell in the
   * same round trip when its next message becomes visible returns that too ({@link ClaimedWithNext}),
   * which saves the consumer a call of `nextVisibleAt` after a claim that came back short.
   */
  claim(limit: number, now: number, leaseUntil: number): Promise<Delivery[] | ClaimedWithNext> | Delivery[] | ClaimedWithNext;
  /** When the next message of the queue becomes visible after `now` (a delayed or leased one), if any. */
  nextVisibleAt(now: number): Promise<number | undefined> | number | undefined;
  /** Deletes a handled message. */
  ack(id: string): Promise<void> | void;
  /** Makes a failed message visible again at `availableAt`. */
  retry(delivery: Delivery, availableAt: number): Promise<void> | void;
  /** Moves a message to the dead letters with its reason, in one atomic write. */
  deadLetter(delivery: Delivery, reason: string): Promise<void> | void;
  /** Pushes the leases of messages still being handled to `until`. */
  extend(ids: string[], until: number): Promise<void> | void;
}

/** A claim's messages, with what `nextVisibleAt(now)` would have answered after it. */
export interface ClaimedWithNext {
  deliveries: Delivery[];
  nextVisibleAt: number | undefined;
}

/** How a {@link PolledConsumer} runs: the consume options, resolved, and the broker's timing. */
export interface PolledConsumerSettings {
  concurrency: number;
  visibilityTimeoutMs: number;
  maxDeliveries: number;
  /** Safety-net poll for wake-ups the broker's notifications missed. */
  pollIntervalMs: number;
  /** Delay before a failed message is delivered again. */
  retryBackoffMs: (deliveryCount: number) => number;
}

/**
 * One subscription of a table-backed broker: claims visible messages up to its concurrency, runs the
 * handler on each, and acks, retries with backoff, or dead-letters ({@link deadLetterReason}). While a
 * handler runs, its lease is extended every third of the visibility timeout, so only a dead process
 * lets a message go to another consumer. Woken by the broker's notifications (`wake`), by a timer at
 * the next delayed message's due time, by each finished handler, and by a slow poll.
 */
export class PolledConsumer {
  private active = true;
  private readonly inflight = new Map<string, Promise<void>>();
  private claiming = false;
  private scheduled = false;
  private again = false;
  private dueTimer?: NodeJS.Timeout;
  private readonly poll: NodeJS.Timeout;
  private readonly leaseTimer: NodeJS.Timeout;

  constructor(
    private readonly store: PolledQueue,
    readonly queue: string,
    private readonly handler: MessageHandler,
    private readonly settings: PolledConsumerSettings,
  ) {
    this.poll = setInterval(this.wake, settings.pollIntervalMs);
    this.poll.unref();
    this.leaseTimer = setInterval(() => void this.extendLeases(), Math.max(50, settings.visibilityTimeoutMs / 3));
    this.leaseTimer.unref();
  }

  /**
   * Claims on the next tick (a burst of wake-ups, publishes in this process say, becomes one claim),
   * or once more after the claim in progress: no wake-up is lost, and no two claims overlap.
   */
  readonly wake = (): void => {
    if (!this.active) return;
    if (this.claiming) {
      this.again = true;
      return;
    }
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (!this.active) return;
      if (this.claiming) {
        this.again = true;
        return;
      }
      this.claiming = true;
      void this.claim().finally(() => {
        this.claiming = false;
        if (this.again && this.active) {
          this.again = false;
          this.wake();
        }
      });
    });
  };

  private async claim(): Promise<void> {
    const free = this.settings.concurrency - this.inflight.size;
    if (!this.active || this.store.isClosed || free <= 0) return;
    const now = Date.now();
    let result: Delivery[] | ClaimedWithNext;
    try {
      result = await this.store.claim(free, now, now + this.settings.visibilityTimeoutMs);
    } catch {
      return; // the backend is away: the poll tries again
    }
    if (!this.active) return; // stopped while claiming: the leases lapse and others take them
    const claimed = Array.isArray(result) ? result : result.deliveries;
    for (const delivery of claimed) this.run(delivery);
    if (claimed.length === free) this.again = true;
    else await this.armDueTimer(now, Array.isArray(result) ? undefined : { next: result.nextVisibleAt });
  }

  /**
   * Sleeps until the next delayed (or leased) message becomes visible: delayed messages are not late
   * by a poll. `known`: the claim said when that is (ClaimedWithNext), so the queue is not asked.
   */
  private async armDueTimer(now: number, known?: { next: number | undefined }): Promise<void> {
    let next: number | undefined;
    try {
      next = known ? known.next : await this.store.nextVisibleAt(now);
    } catch {
      return; // the poll covers it
    }
    if (!this.active) return;
    if (this.dueTimer) clearTimeout(this.dueTimer);
    this.dueTimer = undefined;
    if (next === undefined) return;
    this.dueTimer = setTimeout(this.wake, Math.max(0, next - Date.now()));
    this.dueTimer.unref();
  }

  private run(delivery: Delivery): void {
    const task = (async () => {
      let failed = false;
      let failure: unknown;
      try {
        await this.handler(delivery);
      } catch (err) {
        failed = true;
        failure = err;
      }
      if (this.store.isClosed || !this.inflight.has(delivery.id)) return; // abandoned
      try {
        if (!failed) await this.store.ack(delivery.id);
        else await this.settleFailure(delivery, failure);
      } catch {
        // Still leased: it comes back after the visibility timeout.
      }
    })();
    const tracked = task.finally(() => {
      this.inflight.delete(delivery.id);
      this.wake();
    });
    this.inflight.set(delivery.id, tracked);
  }

  private async settleFailure(delivery: Delivery, error: unknown): Promise<void> {
    const reason = deadLetterReason(error, delivery.deliveryCount, this.settings.maxDeliveries);
    if (reason !== undefined) await this.store.deadLetter(delivery, reason);
    else await this.store.retry(delivery, Date.now() + this.settings.retryBackoffMs(delivery.deliveryCount));
  }

  /** Live handlers keep their messages invisible to everyone else. */
  private async extendLeases(): Promise<void> {
    if (this.inflight.size === 0 || this.store.isClosed) return;
    try {
      await this.store.extend([...this.inflight.keys()], Date.now() + this.settings.visibilityTimeoutMs);
    } catch {
      // Retried on the next tick, well within the timeout.
    }
  }

  /** Stops claiming and waits for running handlers; their leases are extended until they settle. */
  async stop(): Promise<void> {
    this.active = false;
    clearInterval(this.poll);
    if (this.dueTimer) clearTimeout(this.dueTimer);
    await Promise.allSettled([...this.inflight.values()]);
    clearInterval(this.leaseTimer);
  }

  /** Stops at once, as if the process died: held messages come back when their leases end. */
  abandon(): void {
    this.active = false;
    clearInterval(this.poll);
    clearInterval(this.leaseTimer);
    if (this.dueTimer) clearTimeout(this.dueTimer);
    this.inflight.clear();
  }
}
