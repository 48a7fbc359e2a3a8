import { Batcher, type BatchOutcome } from '@durably/contracts';
import type { SqliteDatabase } from './driver.js';

/** Options of a {@link GroupCommit}. */
export interface GroupCommitOptions {
  /** Most writes in one transaction. Default 256. */
  maxBatch?: number;
}

/** Thrown to every write of a batch whose transaction SQLite ended after one write's error. */
export class BatchAbortedError extends Error {
  constructor(readonly reason: unknown) {
    super(`SQLite rolled back the whole transaction after an error in it: ${(reason as Error)?.message ?? String(reason)}`, { cause: reason });
    this.name = 'BatchAbortedError';
  }
}

/**
 * Group commit: the writes one process asks of a SQLite connection at about the same time share one
 * IMMEDIATE transaction, so one fsync (synchronous=FULL) makes all of them durable instead of one
 * fsync each. The storage and the broker of the embedded backend send every write through it.
 *
 * How (the {@link Batcher} of @durably/contracts, shared with the Postgres adapter): a write is
 * queued and the batch is written on the next macrotask (`setImmediate`), so every
 * write requested by the continuations of the previous batch, or by any other code running in this
 * turn of the event loop, goes into the same transaction (at most `maxBatch`; the rest go in the next
 * one, at once). Inside the transaction each write runs in its own SAVEPOINT:
 *
 * - a write that throws (a conditional append that conflicts, a constraint, a bad argument) is
 *   rolled back to its savepoint and fails alone, with its own error; the others commit;
 * - the writes run in the order they were requested, each seeing the ones before it (two appends to
 *   one run requested back to back succeed in one batch);
 * - every promise settles only after COMMIT has returned, so nothing is acknowledged before it is on
 *   disk, and a crash at any instant leaves the whole batch or none of it (one transaction);
 * - an error that ends the transaction itself (BEGIN cannot get the lock within the busy timeout, a
 *   full disk or an I/O error that makes SQLite roll back, COMMIT failing) fails every write of the
 *   batch with that error: none of them was written.
 *
 * Other processes on the file are unaffected: the batch takes the write lock like any IMMEDIATE
 * transaction (BEGIN IMMEDIATE, waiting up to the busy timeout) and holds it for one commit.
 */
export class GroupCommit {
  /** The queueing shared with the other adapters' batches: one turn of the event loop, one batch. */
  private readonly batcher: Batcher<() => unknown, unknown>;

  constructor(
    private readonly db: () => SqliteDatabase,
    options: GroupCommitOptions = {},
  ) {
    this.batcher = new Batcher((batch) => this.write(batch), { maxBatch: Math.max(1, options.maxBatch ?? 256) });
  }

  /** Transactions committed (or attempted) so far: one per batch. */
  get commits(): number {
    return this.batcher.batches;
  }

  /** Queues `fn` (synchronous SQL on the connection) for the next batch; settles after its COMMIT. */
  run<T>(fn: () => T): Promise<T> {
    return this.batcher.submit(fn) as Promise<T>;
  }

  /** Resolves once every write queued so far has settled (a closing storage waits for them). */
  drained(): Promise<void> {
    return this.batcher.drained();
  }

  private write(batch: Array<() => unknown>): Array<BatchOutcome<unknown>> {
    const outcomes: Array<BatchOutcome<unknown>> = [];
    try {
      const db = this.db();
      db.transaction(() => {
        for (const fn of batch) {
          try {
            // Nested in the batch's transaction, the driver makes this a SAVEPOINT, rolled back on a throw.
            outcomes.push({ ok: true, value: db.transaction(fn).immediate() });
          } catch (error) {
            outcomes.push({ ok: false, error });
            // Some errors (SQLITE_FULL, SQLITE_IOERR, SQLITE_NOMEM...) make SQLite roll back the whole
            // transaction: the writes after it would run outside any transaction, so the batch stops.
            if (!db.inTransaction()) throw new BatchAbortedError(error);
          }
        }
      }).immediate();
    } catch (error) {
      // Nothing of the batch was committed: every write fails, the one that caused it with its own error.
      const aborted = error instanceof BatchAbortedError;
      return batch.map((_, i) => {
        const own = outcomes[i];
        return { ok: false, error: aborted && own && !own.ok && i === outcomes.length - 1 ? own.error : error };
      });
    }
    return outcomes;
  }
}
