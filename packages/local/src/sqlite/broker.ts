import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { watch, type FSWatcher } from 'node:fs';
import { resolve } from 'node:path';
import {
  type Broker,
  type ConsumeOptions,
  type DeadLetter,
  type Delivery,
  type MessageHandler,
  type PublishOptions,
  type Subscription,
  type PolledQueue,
  BrokerError,
  PolledConsumer,
  defaultRetryBackoffMs,
} from '@durably/contracts';
import { migrate, openDatabase, type SqliteDatabase } from './db.js';
import type { SqliteDriverName, SqliteStatement } from './driver.js';
import { GroupCommit } from './group-commit.js';

/**
 * Options of `new LocalBroker(...)`, the embedded SQLite broker that `file:` and `local:` URLs open.
 * Several processes on one machine may share the file: each sees the others' messages.
 */
export interface LocalBrokerOptions {
  /** Directory of the database file; the same as the LocalStorage's to share one file. */
  path: string;
  /** The SQLite library: node:sqlite when the runtime has it, else better-sqlite3 (see docs/backends/local.md). */
  driver?: SqliteDriverName;
  /** Fallback check for messages published by another process, in case a file-change notice is missed. Default 250 ms. */
  pollIntervalMs?: number;
  /** Delay before redelivering a message whose handler threw. Default min(100 ms x 2^(n-1), 5 s). */
  retryBackoffMs?: (deliveryCount: number) => number;
}

interface MessageRow {
  id: string;
  queue: string;
  body: string;
  available_at: number;
  delivery_count: number;
}

/** Publishes in this process wake this process's consumers of the same file at once. */
const localSignals = new Map<string, EventEmitter>();
function signalFor(path: string): EventEmitter {
  let e = localSignals.get(path);
  if (!e) {
    e = new EventEmitter();
    e.setMaxListeners(0);
    localSignals.set(path, e);
  }
  return e;
}

/**
 * The embedded default broker: a durable queue table in the local SQLite file. A delivered message
 * stays in the table, invisible until `available_at` (its lease); acking deletes it. So a message
 * survives any crash, and one whose consumer died becomes visible again when its lease runs out.
 *
 * Wake-ups: consumers in this process are woken by publishes at once; consumers in other processes
 * by a watch on the database's WAL file, with a slow poll as a safety net; delayed messages by a
 * timer set to their due time.
 *
 * Writes (publish, claim, ack, retry, dead-letter, lease extension) go through {@link GroupCommit}:
 * those requested in one turn of the event loop share one transaction and one fsync, each settled
 * after the COMMIT, so a publish is acknowledged, and a claimed message handed to its handler, only
 * once on disk.
 */
export class LocalBroker implements Broker {
  readonly maxDelayMs = Infinity;
  private db?: SqliteDatabase;
  private readonly dir: string;
  private closed = false;
  private readonly consumers = new Set<PolledConsumer>();
  private watcher?: FSWatcher;
  private readonly statements = new Map<string, SqliteStatement>();
  /** The batches of writes of this broker's connection (its `commits` counts the transactions). */
  readonly commits = new GroupCommit(() => this.conn());

  constructor(readonly options: LocalBrokerOptions) {
    this.dir = resolve(options.path);
  }

  conn(): SqliteDatabase {
    if (this.closed) throw new BrokerError('This LocalBroker is closed.');
    this.db ??= openDatabase(this.dir, this.options.driver);
    return this.db;
  }

  /** The connection's prepared statement of `sql`, prepared once. */
  stmt(sql: string): SqliteStatement {
    let s = this.statements.get(sql);
    if (!s) this.statements.set(sql, (s = this.conn().prepare(sql)));
    return s;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  guard<T>(what: string, fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw this.failure(what, err);
    }
  }

  /** Runs the write `fn` in the next batch (see group-commit.ts); settles after its COMMIT. */
  write<T>(what: string, fn: () => T): Promise<T> {
    return this.commits.run(fn).catch((err: unknown) => {
      throw this.failure(what, err);
    });
  }

  private failure(what: string, err: unknown): Error {
    if (err instanceof BrokerError) return err;
    return new BrokerError(`Local broker (${this.dir}) failed to ${what}: ${(err as Error).message}`, { cause: err });
  }

  async migrate(): Promise<void> {
    this.guard('migrate', () => migrate(this.conn()));
  }

  async publish(queue: string, body: string, options: PublishOptions = {}): Promise<void> {
    const now = Date.now();
    const availableAt = now + Math.max(0, Math.round(options.delayMs ?? 0));
    await this.write('publish', () => {
      if (options.dedupKey !== undefined) {
        const waiting = this.stmt('SELECT 1 FROM messages WHERE queue = ? AND dedup_key = ? AND delivery_count = 0').get(queue, options.dedupKey);
        if (waiting) return;
      }
      this.stmt('INSERT INTO messages (id, queue, body, available_at, delivery_count, dedup_key, created_at) VALUES (?, ?, ?, ?, 0, ?, ?)').run(
        randomUUID(),
        queue,
        body,
        availableAt,
        options.dedupKey ?? null,
        now,
      );
    });
    signalFor(this.dir).emit(queue);
  }

  async consume(queue: string, handler: MessageHandler, options: ConsumeOptions): Promise<Subscription> {
    this.conn();
    const consumer = new PolledConsumer(new SqliteQueue(this, queue), queue, handler, {
      concurrency: Math.max(1, options.concurrency),
      visibilityTimeoutMs: options.visibilityTimeoutMs ?? 30_000,
      maxDeliveries: options.maxDeliveries ?? 10,
      pollIntervalMs: this.options.pollIntervalMs ?? 250,
      retryBackoffMs: this.options.retryBackoffMs ?? defaultRetryBackoffMs,
    });
    this.consumers.add(consumer);
    this.ensureWatcher();
    signalFor(this.dir).on(queue, consumer.wake);
    consumer.wake();
    return {
      stop: async () => {
        signalFor(this.dir).off(queue, consumer.wake);
        this.consumers.delete(consumer);
        await consumer.stop();
      },
    };
  }

  /** Other processes' commits change the WAL file: wake every consumer to look. */
  private ensureWatcher(): void {
    if (this.watcher) return;
    try {
      this.watcher = watch(this.dir, { persistent: false }, (_event, filename) => {
        if (!filename || String(filename).startsWith('durably.db')) for (const c of this.consumers) c.wake();
      });
      this.watcher.on('error', () => undefined);
    } catch {
      // Without file notices the poll still finds new messages.
    }
  }

  async deadLetters(queue: string, limit = 100): Promise<DeadLetter[]> {
    return this.guard('read dead letters', () =>
      (this.stmt('SELECT * FROM dead_letters WHERE queue = ? ORDER BY at, id LIMIT ?').all(queue, limit) as Array<{
        id: string;
        queue: string;
        body: string;
        reason: string;
        delivery_count: number;
        at: number;
      }>).map((r) => ({ id: r.id, queue: r.queue, body: r.body, reason: r.reason, deliveryCount: r.delivery_count, at: r.at })),
    );
  }

  async removeDeadLetter(queue: string, id: string): Promise<boolean> {
    return this.write('remove a dead letter', () => this.stmt('DELETE FROM dead_letters WHERE queue = ? AND id = ?').run(queue, id).changes > 0);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    // The writes already requested are written (and settled) first, as they would have been anyway.
    await this.commits.drained();
    if (this.closed) return;
    // Abandon in-flight deliveries as a dead process would: no ack, no lease extension.
    for (const c of this.consumers) {
      signalFor(this.dir).off(c.queue, c.wake);
      c.abandon();
    }
    this.consumers.clear();
    this.watcher?.close();
    this.closed = true;
    this.statements.clear();
    this.db?.close();
  }
}

/** The messages of one queue in the SQLite file, as the shared {@link PolledConsumer} claims, acks and extends them. */
class SqliteQueue implements PolledQueue {
  constructor(
    private readonly broker: LocalBroker,
    private readonly queue: string,
  ) {}

  get isClosed(): boolean {
    return this.broker.isClosed;
  }

  async claim(limit: number, now: number, leaseUntil: number): Promise<Delivery[]> {
    const rows = await this.broker.write('claim messages', () =>
      this.broker
        .stmt(
          `UPDATE messages SET available_at = ?, delivery_count = delivery_count + 1
           WHERE id IN (SELECT id FROM messages WHERE queue = ? AND available_at <= ? ORDER BY available_at LIMIT ?)
           RETURNING id, queue, body, available_at, delivery_count`,
        )
        .all(leaseUntil, this.queue, now, limit) as MessageRow[],
    );
    return rows.map((r) => ({ id: r.id, queue: r.queue, body: r.body, deliveryCount: r.delivery_count }));
  }

  nextVisibleAt(now: number): number | undefined {
    const { next } = this.broker.stmt('SELECT MIN(available_at) AS next FROM messages WHERE queue = ? AND available_at > ?').get(this.queue, now) as { next: number | null };
    return next ?? undefined;
  }

  async ack(id: string): Promise<void> {
    await this.broker.write('ack a message', () => this.broker.stmt('DELETE FROM messages WHERE id = ?').run(id));
  }

  async retry(delivery: Delivery, availableAt: number): Promise<void> {
    await this.broker.write('retry a message', () => this.broker.stmt('UPDATE messages SET available_at = ? WHERE id = ?').run(availableAt, delivery.id));
  }

  async deadLetter(delivery: Delivery, reason: string): Promise<void> {
    await this.broker.write('dead-letter a message', () => {
      this.broker
        .stmt('INSERT OR REPLACE INTO dead_letters (id, queue, body, reason, delivery_count, at) VALUES (?, ?, ?, ?, ?, ?)')
        .run(delivery.id, delivery.queue, delivery.body, reason, delivery.deliveryCount, Date.now());
      this.broker.stmt('DELETE FROM messages WHERE id = ?').run(delivery.id);
    });
  }

  async extend(ids: string[], until: number): Promise<void> {
    await this.broker.write('extend leases', () => {
      const update = this.broker.stmt('UPDATE messages SET available_at = ? WHERE id = ?');
      for (const id of ids) update.run(until, id);
    });
  }
}
