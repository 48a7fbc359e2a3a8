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
  BrokerError,
  deadLetterReason,
  defaultRetryBackoffMs,
} from '@durably/contracts';
import { migrate, openDatabase, type SqliteDatabase } from './db.js';
import type { SqliteDriverName } from './driver.js';

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
 */
export class LocalBroker implements Broker {
  readonly maxDelayMs = Infinity;
  private db?: SqliteDatabase;
  private readonly dir: string;
  private closed = false;
  private readonly consumers = new Set<LocalConsumer>();
  private watcher?: FSWatcher;

  constructor(readonly options: LocalBrokerOptions) {
    this.dir = resolve(options.path);
  }

  conn(): SqliteDatabase {
    if (this.closed) throw new BrokerError('This LocalBroker is closed.');
    this.db ??= openDatabase(this.dir, this.options.driver);
    return this.db;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  guard<T>(what: string, fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      if (err instanceof BrokerError) throw err;
      throw new BrokerError(`Local broker (${this.dir}) failed to ${what}: ${(err as Error).message}`, { cause: err });
    }
  }

  async migrate(): Promise<void> {
    this.guard('migrate', () => migrate(this.conn()));
  }

  async publish(queue: string, body: string, options: PublishOptions = {}): Promise<void> {
    const now = Date.now();
    const availableAt = now + Math.max(0, Math.round(options.delayMs ?? 0));
    this.guard('publish', () => {
      const db = this.conn();
      const tx = db.transaction(() => {
        if (options.dedupKey !== undefined) {
          const waiting = db.prepare('SELECT 1 FROM messages WHERE queue = ? AND dedup_key = ? AND delivery_count = 0').get(queue, options.dedupKey);
          if (waiting) return;
        }
        db.prepare('INSERT INTO messages (id, queue, body, available_at, delivery_count, dedup_key, created_at) VALUES (?, ?, ?, ?, 0, ?, ?)').run(
          randomUUID(),
          queue,
          body,
          availableAt,
          options.dedupKey ?? null,
          now,
        );
      });
      tx.immediate();
    });
    signalFor(this.dir).emit(queue);
  }

  async consume(queue: string, handler: MessageHandler, options: ConsumeOptions): Promise<Subscription> {
    this.conn();
    const consumer = new LocalConsumer(this, queue, handler, {
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
      (this.conn().prepare('SELECT * FROM dead_letters WHERE queue = ? ORDER BY at, id LIMIT ?').all(queue, limit) as Array<{
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
    return this.guard('remove a dead letter', () => this.conn().prepare('DELETE FROM dead_letters WHERE queue = ? AND id = ?').run(queue, id).changes > 0);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    // Abandon in-flight deliveries as a dead process would: no ack, no lease extension.
    for (const c of this.consumers) {
      signalFor(this.dir).off(c.queue, c.wake);
      c.abandon();
    }
    this.consumers.clear();
    this.watcher?.close();
    this.closed = true;
    this.db?.close();
  }
}

interface ConsumerSettings {
  concurrency: number;
  visibilityTimeoutMs: number;
  maxDeliveries: number;
  pollIntervalMs: number;
  retryBackoffMs: (deliveryCount: number) => number;
}

/** One subscription: claims visible messages up to its concurrency, runs handlers, acks or retries. */
class LocalConsumer {
  private active = true;
  private readonly inflight = new Map<string, Promise<void>>();
  private scheduled = false;
  private dueTimer?: NodeJS.Timeout;
  private readonly poll: NodeJS.Timeout;
  private readonly leaseTimer: NodeJS.Timeout;

  constructor(
    private readonly broker: LocalBroker,
    readonly queue: string,
    private readonly handler: MessageHandler,
    private readonly settings: ConsumerSettings,
  ) {
    this.poll = setInterval(this.wake, settings.pollIntervalMs);
    this.poll.unref();
    this.leaseTimer = setInterval(() => this.extendLeases(), Math.max(50, settings.visibilityTimeoutMs / 3));
    this.leaseTimer.unref();
  }

  /** Coalesces many wake-ups into one claim pass on the next tick. */
  readonly wake = (): void => {
    if (!this.active || this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.claim();
    });
  };

  private claim(): void {
    if (!this.active || this.broker.isClosed) return;
    const free = this.settings.concurrency - this.inflight.size;
    if (free <= 0) return;
    const now = Date.now();
    let rows: MessageRow[];
    try {
      rows = this.broker.guard('claim messages', () =>
        this.broker
          .conn()
          .prepare(
            `UPDATE messages SET available_at = ?, delivery_count = delivery_count + 1
             WHERE id IN (SELECT id FROM messages WHERE queue = ? AND available_at <= ? ORDER BY available_at LIMIT ?)
             RETURNING id, queue, body, available_at, delivery_count`,
          )
          .all(now + this.settings.visibilityTimeoutMs, this.queue, now, free) as MessageRow[],
      );
    } catch {
      return; // the poll tries again
    }
    for (const row of rows) this.run(row);
    if (rows.length < free) this.armDueTimer(now);
  }

  /** Sleeps until the next delayed (or leased) message of the queue becomes visible. */
  private armDueTimer(now: number): void {
    if (this.dueTimer) clearTimeout(this.dueTimer);
    this.dueTimer = undefined;
    let next: number | null = null;
    try {
      next = (this.broker.conn().prepare('SELECT MIN(available_at) AS next FROM messages WHERE queue = ? AND available_at > ?').get(this.queue, now) as { next: number | null })
        .next;
    } catch {
      return;
    }
    if (next === null) return;
    // Exactly at the due time, so delayed messages (sleeps) are not late by a poll interval.
    this.dueTimer = setTimeout(this.wake, Math.max(0, next - now));
    this.dueTimer.unref();
  }

  private run(row: MessageRow): void {
    const delivery: Delivery = { id: row.id, queue: row.queue, body: row.body, deliveryCount: row.delivery_count };
    const task = (async () => {
      let failure: unknown;
      let failed = false;
      try {
        await this.handler(delivery);
      } catch (err) {
        failed = true;
        failure = err;
      }
      if (this.broker.isClosed || !this.inflight.has(row.id)) return; // abandoned
      try {
        if (!failed) this.ack(row.id);
        else this.nack(row, failure);
      } catch {
        // Left leased: it comes back after its visibility timeout.
      }
    })();
    const tracked = task.finally(() => {
      this.inflight.delete(row.id);
      this.wake();
    });
    this.inflight.set(row.id, tracked);
  }

  private ack(id: string): void {
    this.broker.conn().prepare('DELETE FROM messages WHERE id = ?').run(id);
  }

  private nack(row: MessageRow, error: unknown): void {
    const db = this.broker.conn();
    const reason = deadLetterReason(error, row.delivery_count, this.settings.maxDeliveries);
    if (reason !== undefined) {
      db.transaction(() => {
        db.prepare('INSERT OR REPLACE INTO dead_letters (id, queue, body, reason, delivery_count, at) VALUES (?, ?, ?, ?, ?, ?)').run(
          row.id,
          row.queue,
          row.body,
          reason,
          row.delivery_count,
          Date.now(),
        );
        db.prepare('DELETE FROM messages WHERE id = ?').run(row.id);
      }).immediate();
    } else {
      db.prepare('UPDATE messages SET available_at = ? WHERE id = ?').run(Date.now() + this.settings.retryBackoffMs(row.delivery_count), row.id);
    }
  }

  /** Live handlers keep their messages invisible to everyone else. */
  private extendLeases(): void {
    if (this.inflight.size === 0 || this.broker.isClosed) return;
    try {
      const update = this.broker.conn().prepare('UPDATE messages SET available_at = ? WHERE id = ?');
      const until = Date.now() + this.settings.visibilityTimeoutMs;
      for (const id of this.inflight.keys()) update.run(until, id);
    } catch {
      // A missed extension is retried on the next tick, well within the timeout.
    }
  }

  async stop(): Promise<void> {
    this.active = false;
    clearInterval(this.poll);
    if (this.dueTimer) clearTimeout(this.dueTimer);
    // Leases keep being extended until the running handlers have settled.
    await Promise.allSettled([...this.inflight.values()]);
    this.clearTimers();
  }

  abandon(): void {
    this.active = false;
    this.clearTimers();
    this.inflight.clear();
  }

  private clearTimers(): void {
    clearInterval(this.poll);
    clearInterval(this.leaseTimer);
    if (this.dueTimer) clearTimeout(this.dueTimer);
  }
}
