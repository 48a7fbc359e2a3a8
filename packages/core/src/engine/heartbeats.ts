import type { Logger } from '@durably/contracts';
import type { CheckpointStore } from './scope.js';

/** An attempt writes its heartbeat details at most this often; the latest ones win. */
export const HEARTBEAT_DETAILS_INTERVAL_MS = 1000;

/**
 * The heartbeat details of one step attempt, kept in the step's heartbeat store (a checkpoint of its
 * own, beside the user's `checkpoint`), so that the attempt that follows a crash or a failure reads
 * the last ones. A chatty heartbeat costs at most one write per interval: the first details are
 * written at once, later ones wait for the interval and only the latest of them is written. When the
 * attempt ends, `flush()` writes what is still pending. Details written by an attempt that dies are
 * at most one interval behind.
 */
export class HeartbeatDetails {
  /** Set once details were read or given: the store is deleted when the step completes. */
  used = false;
  private pending?: { details: unknown };
  private writing?: Promise<void>;
  private timer?: NodeJS.Timeout;
  private lastWriteAt = Number.NEGATIVE_INFINITY;
  private closed = false;

  constructor(
    private readonly store: CheckpointStore,
    private readonly logger: Logger,
    private readonly intervalMs: number = HEARTBEAT_DETAILS_INTERVAL_MS,
  ) {}

  /** The details the previous attempts of this step left (undefined when none). */
  load(): Promise<unknown> {
    this.used = true;
    return this.store.load();
  }

  record(details: unknown): void {
    if (this.closed) return;
    this.used = true;
    this.pending = { details };
    this.schedule();
  }

  /** The attempt ended: writes the details not yet written, then stops. */
  async flush(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    // Most attempts record no details: nothing to wait for then (no promise turns on every step).
    if (this.writing) await this.writing;
    if (this.pending) await this.write();
  }

  /** Deletes the step's details (it completed: no later attempt needs them). */
  delete(): Promise<void> {
    return this.store.delete();
  }

  private schedule(): void {
    if (this.closed || this.timer || this.writing) return;
    const wait = this.lastWriteAt + this.intervalMs - Date.now();
    if (wait <= 0) {
      void this.write();
      return;
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.write();
    }, wait);
    this.timer.unref?.();
  }

  private write(): Promise<void> {
    const pending = this.pending;
    if (!pending) return Promise.resolve();
    this.pending = undefined;
    this.lastWriteAt = Date.now();
    this.writing = this.store
      .save(pending.details)
      .catch((err: unknown) => this.logger.warn('heartbeat details not saved', { error: err instanceof Error ? err.message : String(err) }))
      .finally(() => {
        this.writing = undefined;
        if (this.pending) this.schedule();
      });
    return this.writing;
  }
}
