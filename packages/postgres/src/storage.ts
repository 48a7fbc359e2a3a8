import {
  AppendConflictError,
  RunNotFoundError,
  StorageError,
  type AppendRequest,
  type CreateRunResult,
  type DurablyEvent,
  type HookRecord,
  type NewRun,
  type RunFilter,
  type RunPage,
  type RunRecord,
  type RunStatus,
  type ScheduleRecord,
  type SerializedError,
  type Storage,
  type Timer,
  Batcher,
  type BatchOutcome,
  decodeCursor,
  encodeCursor,
  pageLimit,
} from '@durably/contracts';
import pg from 'pg';
import { appendBatchParams, appendBatchSql } from './append.js';
import { createRunsParams, createRunsSql } from './create-runs.js';
import { channelName, Connection, migrate, type PostgresOptions } from './schema.js';

interface RunRow {
  run_id: string;
  workflow: string;
  status: RunStatus;
  queue: string;
  args: string;
  result: string | null;
  error: SerializedError | null;
  idempotency_key: string | null;
  parent_run_id: string | null;
  created_at: string;
  updated_at: string;
  start_at: string | null;
  finished_at: string | null;
  last_seq: number;
  tags: string[] | null;
  attributes: Record<string, string | number | boolean> | null;
}

/**
 * Durably storage on PostgreSQL. Every append is one statement: a chain of data-modifying CTEs
 * that updates the run row only if `last_seq` still equals `expectedSeq` and writes the events,
 * timers, hook entries and slot release only if it did. A statement is atomic, and a concurrent
 * writer blocks on the run row and then finds `last_seq` moved, so one round trip fences workers.
 */
export class PostgresStorage implements Storage {
  private readonly conn: Connection;
  private readonly S: string;

  private readonly finishedChannel: string;

  constructor(private readonly options: PostgresOptions) {
    this.conn = new Connection(options);
    this.S = `"${this.conn.schema}"`;
    this.finishedChannel = channelName('durably_done', this.conn.schema);
  }

  private listener?: Promise<pg.Client>;
  private readonly finishedListeners = new Set<(runId: string) => void>();
  private closing = false;

  /** One LISTEN connection per storage (opened on first use) on the channel appends notify at commit. */
  async subscribeFinished(listener: (runId: string) => void): Promise<() => void> {
    this.finishedListeners.add(listener);
    try {
      await (this.listener ??= this.listenFinished());
    } catch (err) {
      this.listener = undefined;
      this.finishedListeners.delete(listener);
      throw this.conn.wrap(err);
    }
    return () => void this.finishedListeners.delete(listener);
  }

  private async listenFinished(): Promise<pg.Client> {
    const client = this.options.pool ? ((await this.options.pool.connect()) as unknown as pg.Client) : new pg.Client({ connectionString: this.options.url });
    client.on('error', () => undefined);
    if (!this.options.pool) await client.connect();
    client.on('notification', (msg) => {
      if (msg.channel !== this.finishedChannel || !msg.payload) return;
      for (const l of this.finishedListeners) l(msg.payload);
    });
    client.on('end', () => {
      // Dropped (a server restart): listen again; waiters poll meanwhile.
      this.listener = undefined;
      if (this.closing || this.finishedListeners.size === 0) return;
      setTimeout(() => {
        if (!this.closing) this.listener ??= this.listenFinished().catch(() => (this.listener = undefined) as never);
      }, 500).unref();
    });
    await client.query(`LISTEN "${this.finishedChannel}"`);
    return client;
  }

  /** Creates the storage and runs its migrations. */
  static async create(options: PostgresOptions): Promise<PostgresStorage> {
    const storage = new PostgresStorage(options);
    await storage.migrate();
    return storage;
  }

  get schema(): string {
    return this.conn.schema;
  }

  async migrate(): Promise<void> {
    await migrate(this.conn);
  }

  /**
   * Runs created in one turn of the event loop (a client starting many) share one statement and one
   * commit ({@link createRunsSql}). Requests for one id or one idempotency key never share a batch.
   */
  private readonly creates = new Batcher<NewRun, RunRecord | undefined>(
    async (runs) => {
      const { rows } = await this.conn.prepared<RunRow>('create-runs', createRunsSql(this.S), createRunsParams(runs));
      const byId = new Map(rows.map((r) => [r.run_id, r]));
      return runs.map((run) => {
        // Inserted in batch order: a second request for one id (under another key) was left out.
        const row = byId.get(run.runId);
        byId.delete(run.runId);
        return { ok: true, value: row ? toRecord(row) : undefined };
      });
    },
    { maxBatch: 128, maxInFlight: 4, retryAlone: true, key: (run) => (run.idempotencyKey === undefined ? `id:${run.runId}` : `key:${run.workflow}:${run.idempotencyKey}`) },
  );

  async createRun(run: NewRun): Promise<CreateRunResult> {
    const S = this.S;
    // ON CONFLICT DO NOTHING (on the run id or the per-workflow key) waits for a racing insert to
    // commit, so the winner is visible to the read that follows. Read again if it is gone by then
    // (deleted by retention): the next insert may succeed.
    for (let attempt = 0; ; attempt++) {
      const created = await this.creates.submit(run);
      if (created) return { run: created, created: true };
      const existing = await this.conn.query<RunRow>(
        `SELECT * FROM ${S}.runs WHERE run_id = $1 OR (workflow = $2 AND idempotency_key = $3) ORDER BY (idempotency_key IS NOT DISTINCT FROM $3) DESC LIMIT 1`,
        [run.runId, run.workflow, run.idempotencyKey ?? null],
      );
      if (existing.rows[0]) return { run: toRecord(existing.rows[0]), created: false };
      if (attempt >= 3) throw new StorageError(`Postgres at ${this.conn.address}: creating run "${run.runId}" conflicted with a run that no longer exists, ${attempt + 1} times.`);
    }
  }

  /**
   * Batched reads: the lookups of one turn of the event loop (a worker reading the runs it was handed,
   * clients waiting on results, the appends' conflict checks) share one statement and one round trip.
   * Each statement is a read at one snapshot, like the lookups it replaces.
   */
  private readonly runReads = new Batcher<string, RunRecord | undefined>(
    async (ids) => {
      const { rows } = await this.conn.prepared<RunRow>('get-runs', `SELECT * FROM ${this.S}.runs WHERE run_id = ANY($1::text[])`, [[...new Set(ids)]]);
      const byId = new Map(rows.map((r) => [r.run_id, r]));
      return ids.map((id) => {
        const row = byId.get(id);
        return { ok: true, value: row ? toRecord(row) : undefined };
      });
    },
    { maxBatch: 256, maxInFlight: 4, retryAlone: true },
  );

  private readonly eventReads = new Batcher<{ runId: string; fromSeq: number; limit: number | null }, DurablyEvent[]>(
    async (reads) => {
      const { rows } = await this.conn.prepared<{ i: string; run_id: string; seq: number; type: string; correlation_id: string | null; at: string; data: string }>(
        'read-events-batch',
        `SELECT q.i, e.* FROM unnest($1::text[], $2::bigint[], $3::bigint[]) WITH ORDINALITY AS q(run_id, from_seq, lim, i)
         CROSS JOIN LATERAL (SELECT * FROM ${this.S}.events e WHERE e.run_id = q.run_id AND e.seq >= q.from_seq ORDER BY e.seq LIMIT q.lim) e
         ORDER BY q.i, e.seq`,
        [reads.map((r) => r.runId), reads.map((r) => r.fromSeq), reads.map((r) => r.limit)],
      );
      const logs: DurablyEvent[][] = reads.map(() => []);
      for (const r of rows) {
        const event = { runId: r.run_id, seq: r.seq, type: r.type, at: Number(r.at), data: JSON.parse(r.data) } as DurablyEvent;
        if (r.correlation_id !== null) event.correlationId = r.correlation_id;
        logs[Number(r.i) - 1].push(event);
      }
      return logs.map((value) => ({ ok: true, value }));
    },
    { maxBatch: 256, maxInFlight: 4, retryAlone: true },
  );

  async getRun(runId: string): Promise<RunRecord | undefined> {
    if (!storable(runId)) return undefined;
    return this.runReads.submit(runId);
  }

  async getRunByIdempotencyKey(workflow: string, idempotencyKey: string): Promise<RunRecord | undefined> {
    if (!storable(workflow) || !storable(idempotencyKey)) return undefined;
    const { rows } = await this.conn.prepared<RunRow>('get-run-by-key', `SELECT * FROM ${this.S}.runs WHERE workflow = $1 AND idempotency_key = $2`, [workflow, idempotencyKey]);
    return rows[0] ? toRecord(rows[0]) : undefined;
  }

  async listRuns(filter: RunFilter = {}): Promise<RunPage> {
    const limit = pageLimit(filter.limit);
    if (![filter.workflow, filter.parentRunId, ...(filter.tags ?? [])].every((v) => v === undefined || storable(v))) return { runs: [] };
    const where: string[] = [];
    const values: unknown[] = [];
    const param = (v: unknown) => {
      values.push(v);
      return `$${values.length}`;
    };
    if (filter.workflow !== undefined) where.push(`workflow = ${param(filter.workflow)}`);
    if (filter.status !== undefined) where.push(`status = ANY(${param(Array.isArray(filter.status) ? filter.status : [filter.status])}::text[])`);
    if (filter.parentRunId !== undefined) where.push(`parent_run_id = ${param(filter.parentRunId)}`);
    if (filter.createdAfter !== undefined) where.push(`created_at >= ${param(filter.createdAfter)}`);
    if (filter.createdBefore !== undefined) where.push(`created_at < ${param(filter.createdBefore)}`);
    if (filter.updatedBefore !== undefined) where.push(`updated_at < ${param(filter.updatedBefore)}`);
    if (filter.tags?.length) where.push(`tags @> ${param(filter.tags)}::text[]`);
    if (filter.attributes && Object.keys(filter.attributes).length > 0) where.push(`attributes @> ${param(JSON.stringify(filter.attributes))}::jsonb`);
    if (filter.cursor) {
      const c = decodeCursor(filter.cursor);
      where.push(`(created_at, run_id) < (${param(c.createdAt)}, ${param(c.runId)})`);
    }
    const sql = `SELECT * FROM ${this.S}.runs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, run_id DESC LIMIT ${param(limit + 1)}`;
    const { rows } = await this.conn.query<RunRow>(sql, values);
    const runs = rows.slice(0, limit).map(toRecord);
    const last = runs[runs.length - 1];
    return rows.length > limit && last ? { runs, nextCursor: encodeCursor(last.createdAt, last.runId) } : { runs };
  }

  /**
   * Group commit: appends arriving in one turn of the event loop, from any number of runs, go to
   * the server as one statement ({@link appendBatchSql}): one round trip and one commit for all of
   * them instead of one each. Each run's append stays conditional on its own `expectedSeq`: a run
   * that conflicts is left out of the statement's writes and fails alone, and every append is
   * acknowledged only after the commit. Two appends of one run never share a batch or run at once
   * (the second is fenced on the first). Up to 4 batches run at once, on separate connections.
   */
  private readonly appends = new Batcher<AppendRequest, void>((batch) => this.appendBatch(batch), {
    maxBatch: 128,
    maxInFlight: 4,
    key: (request) => request.runId,
    retryAlone: true,
  });

  async append(request: AppendRequest): Promise<void> {
    const { runId, expectedSeq, events } = request;
    events.forEach((e, i) => {
      if (e.seq !== expectedSeq + 1 + i) throw new StorageError(`Append to run ${runId}: event ${i} has seq ${e.seq}, expected ${expectedSeq + 1 + i}.`);
    });
    return this.appends.submit(request);
  }

  private async appendBatch(batch: AppendRequest[]): Promise<Array<BatchOutcome<void>>> {
    // A statement that fails (one request's bad value, a deadlock between duplicate executors, a
    // dropped connection) wrote nothing: the batcher runs each of its appends again on its own.
    const { rows } = await this.conn.prepared<{ updated: string[] }>('append-batch', appendBatchSql(this.S), appendBatchParams(batch, this.finishedChannel));
    const updated = new Set(rows[0].updated);
    return Promise.all(
      batch.map(async (request): Promise<BatchOutcome<void>> => {
        if (updated.has(request.runId)) return { ok: true, value: undefined };
        return { ok: false, error: await this.conflict(request) };
      }),
    );
  }

  /** The error of an append that updated nothing: the run is missing or another writer won. */
  private async conflict(request: AppendRequest): Promise<Error> {
    const current = await this.getRun(request.runId).catch((err: unknown) => err as Error);
    if (current instanceof Error) return current;
    if (!current) return new RunNotFoundError(request.runId);
    return new AppendConflictError(request.runId, request.expectedSeq, current.lastSeq);
  }

  async readEvents(runId: string, fromSeq = 1, limit?: number): Promise<DurablyEvent[]> {
    if (!storable(runId)) return [];
    return this.eventReads.submit({ runId, fromSeq, limit: limit ?? null });
  }

  async touchRun(runId: string, at: number): Promise<void> {
    await this.conn.prepared('touch', `UPDATE ${this.S}.runs SET updated_at = $2 WHERE run_id = $1`, [runId, at]);
  }

  async claimDueTimers(now: number, options: { limit: number; leaseMs: number }): Promise<Timer[]> {
    const { rows } = await this.conn.query<{ run_id: string; timer_id: string; fire_at: string }>(
      `UPDATE ${this.S}.timers t SET lease_until = $2
       FROM (SELECT run_id, timer_id FROM ${this.S}.timers WHERE fire_at <= $1 AND lease_until <= $1 ORDER BY fire_at LIMIT $3 FOR UPDATE SKIP LOCKED) due
       WHERE t.run_id = due.run_id AND t.timer_id = due.timer_id
       RETURNING t.run_id, t.timer_id, t.fire_at`,
      [now, now + options.leaseMs, options.limit],
    );
    return rows.map((r) => ({ runId: r.run_id, timerId: r.timer_id, fireAt: Number(r.fire_at) })).sort((a, b) => a.fireAt - b.fireAt);
  }

  async listTimers(runId: string): Promise<Timer[]> {
    const { rows } = await this.conn.query<{ timer_id: string; fire_at: string }>(`SELECT timer_id, fire_at FROM ${this.S}.timers WHERE run_id = $1 ORDER BY fire_at`, [runId]);
    return rows.map((r) => ({ runId, timerId: r.timer_id, fireAt: Number(r.fire_at) }));
  }

  async getHook(token: string): Promise<HookRecord | undefined> {
    const { rows } = await this.conn.query<{ token: string; run_id: string; correlation_id: string; name: string; created_at: string; expires_at: string | null; consumed_at: string | null }>(
      `SELECT * FROM ${this.S}.hooks WHERE token = $1`,
      [token],
    );
    const r = rows[0];
    if (!r) return undefined;
    const hook: HookRecord = { token: r.token, runId: r.run_id, correlationId: r.correlation_id, name: r.name, createdAt: Number(r.created_at) };
    if (r.expires_at !== null) hook.expiresAt = Number(r.expires_at);
    if (r.consumed_at !== null) hook.consumedAt = Number(r.consumed_at);
    return hook;
  }

  async deleteFinishedRuns(finishedBefore: number, limit: number): Promise<number> {
    const S = this.S;
    const { rows } = await this.conn.query<{ n: string }>(
      `WITH doomed AS (
         DELETE FROM ${S}.runs WHERE run_id IN (
           SELECT run_id FROM ${S}.runs WHERE finished_at < $1 AND status IN ('completed', 'failed', 'cancelled', 'continued') LIMIT $2
         ) RETURNING run_id
       ), ev AS (DELETE FROM ${S}.events WHERE run_id IN (SELECT run_id FROM doomed)),
          tm AS (DELETE FROM ${S}.timers WHERE run_id IN (SELECT run_id FROM doomed)),
          hk AS (DELETE FROM ${S}.hooks WHERE run_id IN (SELECT run_id FROM doomed)),
          cp AS (DELETE FROM ${S}.checkpoints WHERE run_id IN (SELECT run_id FROM doomed))
       SELECT count(*) AS n FROM doomed`,
      [finishedBefore, limit],
    );
    return Number(rows[0].n);
  }

  async saveSchedule(schedule: ScheduleRecord, expectedVersion?: number): Promise<boolean> {
    const S = this.S;
    const buffered = schedule.bufferedSlot !== undefined || (schedule.bufferedSlots?.length ?? 0) > 0;
    const values = [schedule.scheduleId, JSON.stringify(schedule), schedule.paused, schedule.nextFireAt ?? null, buffered, schedule.version];
    if (expectedVersion === undefined) {
      await this.conn.query(
        `INSERT INTO ${S}.schedules (schedule_id, record, paused, next_fire_at, buffered, version, lease_until) VALUES ($1, $2, $3, $4, $5, $6, 0)
         ON CONFLICT (schedule_id) DO UPDATE SET record = EXCLUDED.record, paused = EXCLUDED.paused, next_fire_at = EXCLUDED.next_fire_at,
           buffered = EXCLUDED.buffered, version = EXCLUDED.version, lease_until = 0`,
        values,
      );
      return true;
    }
    if (expectedVersion === 0) {
      const created = await this.conn.query(
        `INSERT INTO ${S}.schedules (schedule_id, record, paused, next_fire_at, buffered, version, lease_until) VALUES ($1, $2, $3, $4, $5, $6, 0) ON CONFLICT (schedule_id) DO NOTHING`,
        values,
      );
      return created.rowCount === 1;
    }
    const result = await this.conn.query(
      `UPDATE ${S}.schedules SET record = $2, paused = $3, next_fire_at = $4, buffered = $5, version = $6, lease_until = 0 WHERE schedule_id = $1 AND version = $7`,
      [...values, expectedVersion],
    );
    return result.rowCount === 1;
  }

  async getSchedule(scheduleId: string): Promise<ScheduleRecord | undefined> {
    const { rows } = await this.conn.query<{ record: ScheduleRecord }>(`SELECT record FROM ${this.S}.schedules WHERE schedule_id = $1`, [scheduleId]);
    return rows[0]?.record;
  }

  async listSchedules(): Promise<ScheduleRecord[]> {
    const { rows } = await this.conn.query<{ record: ScheduleRecord }>(`SELECT record FROM ${this.S}.schedules ORDER BY schedule_id`);
    return rows.map((r) => r.record);
  }

  async deleteSchedule(scheduleId: string): Promise<boolean> {
    const result = await this.conn.query(`DELETE FROM ${this.S}.schedules WHERE schedule_id = $1`, [scheduleId]);
    return result.rowCount === 1;
  }

  async claimDueSchedules(now: number, options: { limit: number; leaseMs: number }): Promise<ScheduleRecord[]> {
    const { rows } = await this.conn.query<{ record: ScheduleRecord }>(
      `UPDATE ${this.S}.schedules s SET lease_until = $2
       FROM (SELECT schedule_id FROM ${this.S}.schedules WHERE NOT paused AND lease_until <= $1 AND (next_fire_at <= $1 OR buffered)
             ORDER BY next_fire_at LIMIT $3 FOR UPDATE SKIP LOCKED) due
       WHERE s.schedule_id = due.schedule_id
       RETURNING s.record`,
      [now, now + options.leaseMs, options.limit],
    );
    return rows.map((r) => r.record);
  }

  async putCheckpoint(runId: string, stepId: string, value: string): Promise<void> {
    await this.conn.query(
      `INSERT INTO ${this.S}.checkpoints (run_id, step_id, value) VALUES ($1, $2, $3) ON CONFLICT (run_id, step_id) DO UPDATE SET value = EXCLUDED.value`,
      [runId, stepId, value],
    );
  }

  async getCheckpoint(runId: string, stepId: string): Promise<string | undefined> {
    const { rows } = await this.conn.query<{ value: string }>(`SELECT value FROM ${this.S}.checkpoints WHERE run_id = $1 AND step_id = $2`, [runId, stepId]);
    return rows[0]?.value;
  }

  async deleteCheckpoint(runId: string, stepId: string): Promise<void> {
    await this.conn.query(`DELETE FROM ${this.S}.checkpoints WHERE run_id = $1 AND step_id = $2`, [runId, stepId]);
  }

  async acquireSlot(key: string, runId: string, limit: number): Promise<boolean> {
    const S = this.S;
    // The advisory lock serializes acquirers of one key; the count and the insert are then one step.
    return this.conn.transaction(async (client) => {
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`durably:slot:${this.conn.schema}:${key}`]);
      const held = await client.query(`SELECT 1 FROM ${S}.concurrency_slots WHERE key = $1 AND run_id = $2`, [key, runId]);
      if (held.rowCount) return true;
      const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${S}.concurrency_slots WHERE key = $1`, [key]);
      if (Number(rows[0].n) >= limit) return false;
      await client.query(`INSERT INTO ${S}.concurrency_slots (key, run_id) VALUES ($1, $2)`, [key, runId]);
      return true;
    });
  }

  async takePermit(key: string, limit: number, periodMs: number, now: number): Promise<number> {
    const win = Math.floor(now / periodMs);
    if (limit < 1) return (win + 1) * periodMs - now;
    // One statement: a new window resets the count; within a window the row lock serializes takers.
    const { rows } = await this.conn.query(
      `INSERT INTO ${this.S}.rate_permits AS r (key, win, used) VALUES ($1, $2, 1)
       ON CONFLICT (key) DO UPDATE SET win = EXCLUDED.win, used = CASE WHEN r.win = EXCLUDED.win THEN r.used + 1 ELSE 1 END
       WHERE r.win <> EXCLUDED.win OR r.used < $3
       RETURNING used`,
      [key, win, limit],
    );
    return rows.length === 1 ? 0 : (win + 1) * periodMs - now;
  }

  /** The database server's clock (`clock_timestamp()`, read when the statement runs), for the client's clock synchronisation. */
  async serverTime(): Promise<number> {
    const { rows } = await this.conn.prepared<{ ms: number | string }>('server-time', 'SELECT (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS ms', []);
    return Number(rows[0].ms);
  }

  async close(): Promise<void> {
    this.closing = true;
    // What was asked before close() still gets its outcome.
    await Promise.all([this.creates.drained(), this.appends.drained(), this.runReads.drained(), this.eventReads.drained()]);
    const listener = await this.listener?.catch(() => undefined);
    this.listener = undefined;
    if (listener) {
      if (this.options.pool) (listener as unknown as pg.PoolClient).release(true);
      else await listener.end().catch(() => undefined);
    }
    await this.conn.close();
  }
}

function toRecord(row: RunRow): RunRecord {
  const record: RunRecord = {
    runId: row.run_id,
    workflow: row.workflow,
    status: row.status,
    queue: row.queue,
    args: row.args,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
    lastSeq: row.last_seq,
  };
  if (row.result !== null) record.result = row.result;
  if (row.error !== null) record.error = row.error;
  if (row.idempotency_key !== null) record.idempotencyKey = row.idempotency_key;
  if (row.parent_run_id !== null) record.parentRunId = row.parent_run_id;
  if (row.start_at !== null) record.startAt = Number(row.start_at);
  if (row.finished_at !== null) record.finishedAt = Number(row.finished_at);
  if (row.tags !== null) record.tags = row.tags;
  if (row.attributes !== null && row.attributes !== undefined) record.attributes = row.attributes;
  return record;
}

/**
 * False for a string PostgreSQL text cannot hold (it has a NUL character): no row has such a value, so
 * a lookup by it finds nothing, instead of failing with "invalid byte sequence for encoding UTF8".
 */
function storable(value: string): boolean {
  return !value.includes('\u0000');
}
