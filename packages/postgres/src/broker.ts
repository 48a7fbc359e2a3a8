import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { Batcher, BrokerError, PolledConsumer, defaultRetryBackoffMs, type ClaimedWithNext, type PolledQueue, type Broker, type ConsumeOptions, type DeadLetter, type Delivery, type MessageHandler, type PublishOptions, type Subscription } from '@durably/contracts';
import { channelName, Connection, migrate, type PostgresOptions } from './schema.js';

/**
 * Options of `new PostgresBroker(...)`: the connection (`url` or a `pg` pool, and the `schema`, as
 * for PostgresStorage; see {@link PostgresOptions}) plus the broker's own timing. Storage and broker
 * may share one database and schema.
 */
export interface PostgresBrokerOptions extends PostgresOptions {
  /** Safety-net poll for missed notifications (after a reconnect, say). Default 1 s. */
  pollIntervalMs?: number;
  /** Delay before redelivering a message whose handler threw. Default min(100 ms x 2^(n-1), 5 s). */
  retryBackoffMs?: (deliveryCount: number) => number;
}

interface Row {
  id: string;
  queue: string;
  body: string;
  delivery_count: number;
}

/**
 * A queue table in Postgres. Consumers claim visible rows with `FOR UPDATE SKIP LOCKED` and push
 * `available_at` forward by the visibility timeout (the lease); acking deletes the row. Publishes
 * `NOTIFY` on commit and each broker holds one `LISTEN` connection, so an idle consumer wakes within
 * milliseconds; delayed messages wake a timer set to their due time; a slow poll covers the rest.
 */
export class PostgresBroker implements Broker {
  readonly maxDelayMs = Infinity;
  private readonly conn: Connection;
  private readonly S: string;
  private readonly channel: string;
  private readonly consumers = new Set<PolledConsumer>();
  private listener?: pg.Client;
  private listening?: Promise<void>;
  private closed = false;
  private readonly options: PostgresBrokerOptions;

  constructor(options: PostgresBrokerOptions) {
    this.options = options;
    this.conn = new Connection(options);
    this.S = `"${this.conn.schema}"`;
    this.channel = channelName('durably', this.conn.schema);
  }

  static async create(options: PostgresBrokerOptions): Promise<PostgresBroker> {
    const broker = new PostgresBroker(options);
    await broker.migrate();
    return broker;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  async migrate(): Promise<void> {
    await migrate(this.conn);
  }

  /**
   * Publishes made in one turn of the event loop (a client starting many runs, a worker's batch of
   * tasks) share one statement and one commit. The NOTIFY is sent when the insert commits, once per
   * queue; a duplicate dedup key inserts and notifies nothing. Two publishes with one dedup key never
   * share a statement, and a statement that fails is run again for each publish on its own.
   */
  private readonly publishes = new Batcher<{ queue: string; body: string; availableAt: number; dedupKey: string | null; createdAt: number }, void>(
    async (batch) => {
      await this.conn.prepared(
        'publish-batch',
        `WITH ins AS (
           INSERT INTO ${this.S}.messages (id, queue, body, available_at, delivery_count, dedup_key, created_at)
           SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::int[], $6::text[], $7::bigint[])
           ON CONFLICT (queue, dedup_key) WHERE dedup_key IS NOT NULL AND delivery_count = 0 DO NOTHING
           RETURNING queue
         )
         SELECT pg_notify($8, queue) FROM (SELECT DISTINCT queue FROM ins) q`,
        [batch.map(() => randomUUID()), batch.map((m) => m.queue), batch.map((m) => m.body), batch.map((m) => m.availableAt), batch.map(() => 0), batch.map((m) => m.dedupKey), batch.map((m) => m.createdAt), this.channel],
      );
      return batch.map(() => ({ ok: true, value: undefined }));
    },
    { maxBatch: 128, maxInFlight: 4, retryAlone: true, key: (m) => (m.dedupKey === null ? undefined : `${m.queue}\u0000${m.dedupKey}`) },
  );

  async publish(queue: string, body: string, options: PublishOptions = {}): Promise<void> {
    if (this.closed) throw new BrokerError('This PostgresBroker is closed.');
    const now = Date.now();
    const delay = Math.max(0, Math.round(options.delayMs ?? 0));
    try {
      await this.publishes.submit({ queue, body, availableAt: now + delay, dedupKey: options.dedupKey ?? null, createdAt: now });
    } catch (err) {
      throw new BrokerError(`Publishing to "${queue}" failed: ${(err as Error).message}`, { cause: err });
    }
  }

  async consume(queue: string, handler: MessageHandler, options: ConsumeOptions): Promise<Subscription> {
    if (this.closed) throw new BrokerError('This PostgresBroker is closed.');
    await this.ensureListening();
    const consumer = new PolledConsumer(new PgQueue(this, this.conn, this.S, queue), queue, handler, {
      concurrency: Math.max(1, options.concurrency),
      visibilityTimeoutMs: options.visibilityTimeoutMs ?? 30_000,
      maxDeliveries: options.maxDeliveries ?? 10,
      pollIntervalMs: this.options.pollIntervalMs ?? 1000,
      retryBackoffMs: this.options.retryBackoffMs ?? defaultRetryBackoffMs,
    });
    this.consumers.add(consumer);
    consumer.wake();
    return {
      stop: async () => {
        this.consumers.delete(consumer);
        await consumer.stop();
      },
    };
  }

  /** One LISTEN connection per broker, reconnected with backoff when it drops. */
  private ensureListening(): Promise<void> {
    this.listening ??= this.listen(0);
    return this.listening;
  }

  private async listen(attempt: number): Promise<void> {
    if (this.closed) return;
    let client: pg.Client;
    try {
      client = this.options.pool ? ((await this.options.pool.connect()) as unknown as pg.Client) : new pg.Client({ connectionString: this.options.url });
    } catch (err) {
      setTimeout(() => void this.listen(attempt + 1).catch(() => undefined), Math.min(200 * 2 ** attempt, 5000)).unref();
      if (attempt === 0 && this.consumers.size === 0) {
        this.listening = undefined;
        throw new BrokerError(`Postgres broker could not LISTEN at ${this.conn.address}: ${(err as Error).message}`, { cause: err });
      }
      return;
    }
    // Registered before connecting: a drop at any moment must not become an uncaught exception.
    client.on('error', () => undefined);
    try {
      if (!this.options.pool) await client.connect();
      client.on('notification', (msg) => {
        for (const c of this.consumers) if (c.queue === msg.payload) c.wake();
      });
      client.on('end', () => {
        if (this.closed) return;
        this.listener = undefined;
        // Wake everyone (messages may have arrived meanwhile) and listen again.
        for (const c of this.consumers) c.wake();
        setTimeout(() => void this.listen(0).catch(() => undefined), 200).unref();
      });
      await client.query(`LISTEN "${this.channel}"`);
      this.listener = client;
    } catch (err) {
      await client.end().catch(() => undefined);
      if (attempt === 0 && this.consumers.size === 0 && !this.listener) {
        // First connection at consume(): say so, with the address.
        this.listening = undefined;
        throw new BrokerError(`Postgres broker could not LISTEN at ${this.conn.address}: ${(err as Error).message}`, { cause: err });
      }
      // Later reconnects retry in the background; the poll keeps consumers going meanwhile.
      setTimeout(() => void this.listen(attempt + 1).catch(() => undefined), Math.min(200 * 2 ** attempt, 5000)).unref();
    }
  }

  async deadLetters(queue: string, limit = 100): Promise<DeadLetter[]> {
    const { rows } = await this.conn.query<{ id: string; queue: string; body: string; reason: string; delivery_count: number; at: string }>(
      `SELECT * FROM ${this.S}.dead_letters WHERE queue = $1 ORDER BY at, id LIMIT $2`,
      [queue, limit],
    );
    return rows.map((r) => ({ id: r.id, queue: r.queue, body: r.body, reason: r.reason, deliveryCount: r.delivery_count, at: Number(r.at) }));
  }

  async removeDeadLetter(queue: string, id: string): Promise<boolean> {
    const { rowCount } = await this.conn.query(`DELETE FROM ${this.S}.dead_letters WHERE queue = $1 AND id = $2`, [queue, id]);
    return (rowCount ?? 0) > 0;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.publishes.drained(); // a publish asked before close() still gets its outcome
    for (const c of this.consumers) c.abandon();
    this.consumers.clear();
    const listener = this.listener;
    this.listener = undefined;
    if (listener) {
      if (this.options.pool) (listener as unknown as pg.PoolClient).release(true);
      else await listener.end().catch(() => undefined);
    }
    await this.conn.close();
  }
}

/** The queue table of one queue, as the shared {@link PolledConsumer} claims, acks and extends it. */
class PgQueue implements PolledQueue {
  constructor(
    private readonly broker: PostgresBroker,
    private readonly conn: Connection,
    private readonly S: string,
    private readonly queue: string,
  ) {}

  get isClosed(): boolean {
    return this.broker.isClosed;
  }

  /**
   * One statement claims the visible rows and tells when the next row of the queue becomes visible
   * (the extra row with a NULL id), so a claim that comes back short costs no second query. That
   * time is read from the snapshot before the claim: the rows claimed here count at their new lease.
   */
  async claim(limit: number, now: number, leaseUntil: number): Promise<ClaimedWithNext> {
    const { rows } = await this.conn.prepared<Row & { next: string | null }>(
      'claim',
      `WITH claimed AS (
         UPDATE ${this.S}.messages m SET available_at = $1, delivery_count = m.delivery_count + 1
         FROM (SELECT id FROM ${this.S}.messages WHERE queue = $2 AND available_at <= $3 ORDER BY available_at LIMIT $4 FOR UPDATE SKIP LOCKED) due
         WHERE m.id = due.id
         RETURNING m.id, m.queue, m.body, m.delivery_count)
       SELECT id, queue, body, delivery_count, NULL::bigint AS next FROM claimed
       UNION ALL
       SELECT NULL, NULL, NULL, NULL, (SELECT min(available_at) FROM ${this.S}.messages WHERE queue = $2 AND available_at > $3)`,
      [leaseUntil, this.queue, now, limit],
    );
    const deliveries: Delivery[] = [];
    let next: number | undefined;
    for (const r of rows) {
      if (r.id === null) next = r.next === null ? undefined : Number(r.next);
      else deliveries.push({ id: r.id, queue: r.queue, body: r.body, deliveryCount: r.delivery_count });
    }
    if (deliveries.length > 0 && (next === undefined || leaseUntil < next)) next = leaseUntil;
    return { deliveries, nextVisibleAt: next };
  }

  async nextVisibleAt(now: number): Promise<number | undefined> {
    const { rows } = await this.conn.query<{ next: string | null }>(`SELECT min(available_at) AS next FROM ${this.S}.messages WHERE queue = $1 AND available_at > $2`, [this.queue, now]);
    const next = rows[0]?.next;
    return next === null || next === undefined ? undefined : Number(next);
  }

  /**
   * Acks that arrive together are deleted by one statement (one commit). A handler's ack resolves only
   * after the delete committed; if the process dies first, the message is simply delivered again.
   */
  private readonly acks = new Batcher<string, void>(
    async (ids) => {
      await this.conn.query(`DELETE FROM ${this.S}.messages WHERE id = ANY($1::text[])`, [ids]);
      return ids.map(() => ({ ok: true, value: undefined }));
    },
    { maxBatch: 256, maxInFlight: 4 },
  );

  ack(id: string): Promise<void> {
    return this.acks.submit(id);
  }

  async retry(delivery: Delivery, availableAt: number): Promise<void> {
    await this.conn.query(`UPDATE ${this.S}.messages SET available_at = $2 WHERE id = $1`, [delivery.id, availableAt]);
  }

  async deadLetter(delivery: Delivery, reason: string): Promise<void> {
    await this.conn.query(
      `WITH gone AS (DELETE FROM ${this.S}.messages WHERE id = $1 RETURNING id, queue, body, delivery_count)
       INSERT INTO ${this.S}.dead_letters (id, queue, body, reason, delivery_count, at) SELECT id, queue, body, $2, delivery_count, $3 FROM gone
       ON CONFLICT (id) DO UPDATE SET reason = EXCLUDED.reason, delivery_count = EXCLUDED.delivery_count, at = EXCLUDED.at`,
      [delivery.id, reason, Date.now()],
    );
  }

  async extend(ids: string[], until: number): Promise<void> {
    await this.conn.query(`UPDATE ${this.S}.messages SET available_at = $1 WHERE id = ANY($2::text[])`, [until, ids]);
  }
}
