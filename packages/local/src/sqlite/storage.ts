import {
  type DurablyEvent,
  AppendConflictError,
  DurablyError,
  RunNotFoundError,
  StorageError,
  type SerializedError,
  type AppendRequest,
  type CreateRunResult,
  type HookRecord,
  type NewRun,
  type RunFilter,
  type RunPage,
  type RunRecord,
  type RunStatus,
  type ScheduleRecord,
  type Storage,
  type Timer,
  encodeCursor,
  pageLimit,
} from '@durably/contracts';
import { migrate, openDatabase, type SqliteDatabase } from './db.js';
import { applyAttributePatch, deleteAttributes } from './attributes.js';
import { listRunsQuery } from './list-runs.js';
import type { SqliteDriverName, SqliteStatement } from './driver.js';

/**
 * Options of `new LocalStorage(...)`, the embedded SQLite storage that `file:` and `local:` URLs open.
 * Several processes on one machine may share the file (SQLite's locking; a writer waits up to 10 s for
 * the lock). The file is opened on first use, which throws `SqliteUnavailableError` when neither
 * `node:sqlite` nor `better-sqlite3` can be loaded.
 */
export interface LocalStorageOptions {
  /** Directory of the database file (`<path>/durably.db`). Created when missing. */
  path: string;
  /** The SQLite library: node:sqlite when the runtime has it, else better-sqlite3 (see docs/backends/local.md). */
  driver?: SqliteDriverName;
}

interface RunRow {
  run_id: string;
  workflow: string;
  status: RunStatus;
  queue: string;
  args: string;
  result: string | null;
  error: string | null;
  idempotency_key: string | null;
  parent_run_id: string | null;
  created_at: number;
  updated_at: number;
  start_at: number | null;
  finished_at: number | null;
  last_seq: number;
  tags: string | null;
  attributes: string | null;
}

interface EventRow {
  run_id: string;
  seq: number;
  type: string;
  correlation_id: string | null;
  at: number;
  data: string;
}

/**
 * The embedded default storage: a SQLite file on disk. Durable across crashes, no server, and safe for
 * several processes at once (each write is one IMMEDIATE transaction; readers never block in WAL mode).
 */
export class LocalStorage implements Storage {
  private db?: SqliteDatabase;
  private readonly statements = new Map<string, SqliteStatement>();
  private closed = false;

  constructor(readonly options: LocalStorageOptions) {}

  private conn(): SqliteDatabase {
    if (this.closed) throw new StorageError('This LocalStorage is closed.');
    this.db ??= openDatabase(this.options.path, this.options.driver);
    return this.db;
  }

  private stmt(sql: string): SqliteStatement {
    let s = this.statements.get(sql);
    if (!s) this.statements.set(sql, (s = this.conn().prepare(sql)));
    return s;
  }

  /** Runs `fn`, turning driver errors into StorageError (contract errors pass through). */
  private guard<T>(what: string, fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      if (err instanceof DurablyError) throw err;
      throw new StorageError(`Local storage (${this.options.path}) failed to ${what}: ${(err as Error).message}`, { cause: err });
    }
  }

  async migrate(): Promise<void> {
    this.guard('migrate', () => migrate(this.conn()));
  }

  async createRun(run: NewRun): Promise<CreateRunResult> {
    return this.guard('create a run', () => {
      const db = this.conn();
      const tx = db.transaction((): CreateRunResult => {
        if (run.idempotencyKey !== undefined) {
          const existing = this.stmt('SELECT * FROM runs WHERE workflow = ? AND idempotency_key = ?').get(run.workflow, run.idempotencyKey) as RunRow | undefined;
          if (existing) return { run: toRecord(existing), created: false };
        }
        const inserted = this.stmt(
          `INSERT INTO runs (run_id, workflow, status, queue, args, idempotency_key, parent_run_id, created_at, updated_at, start_at, last_seq, tags)
           VALUES (?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, 1, ?) ON CONFLICT (run_id) DO NOTHING`,
        ).run(run.runId, run.workflow, run.queue, run.args, run.idempotencyKey ?? null, run.parentRunId ?? null, run.createdAt, run.createdAt, run.startAt ?? null, run.tags?.length ? JSON.stringify(run.tags) : null);
        if (inserted.changes === 0) return { run: toRecord(this.stmt('SELECT * FROM runs WHERE run_id = ?').get(run.runId) as RunRow), created: false };
        for (const tag of new Set(run.tags ?? [])) this.stmt('INSERT INTO run_tags (tag, run_id) VALUES (?, ?)').run(tag, run.runId);
        this.insertEvents([{ ...run.firstEvent, seq: 1 } as DurablyEvent]);
        return { run: toRecord(this.stmt('SELECT * FROM runs WHERE run_id = ?').get(run.runId) as RunRow), created: true };
      });
      // IMMEDIATE: the checks and the insert hold the write lock together, across processes.
      return tx.immediate();
    });
  }

  async getRun(runId: string): Promise<RunRecord | undefined> {
    return this.guard('read a run', () => {
      const row = this.stmt('SELECT * FROM runs WHERE run_id = ?').get(runId) as RunRow | undefined;
      return row ? toRecord(row) : undefined;
    });
  }

  async getRunByIdempotencyKey(workflow: string, idempotencyKey: string): Promise<RunRecord | undefined> {
    return this.guard('read a run by its idempotency key', () => {
      const row = this.stmt('SELECT * FROM runs WHERE workflow = ? AND idempotency_key = ?').get(workflow, idempotencyKey) as RunRow | undefined;
      return row ? toRecord(row) : undefined;
    });
  }

  async listRuns(filter: RunFilter = {}): Promise<RunPage> {
    const limit = pageLimit(filter.limit);
    const { sql, params } = listRunsQuery(filter);
    return this.guard('list runs', () => {
      const rows = this.stmt(sql).all(...params, limit + 1) as RunRow[];
      const runs = rows.slice(0, limit).map(toRecord);
      const last = runs[runs.length - 1];
      return rows.length > limit && last ? { runs, nextCursor: encodeCursor(last.createdAt, last.runId) } : { runs };
    });
  }

  async append(request: AppendRequest): Promise<void> {
    this.guard('append events', () => {
      const tx = this.conn().transaction(() => {
        const row = this.stmt('SELECT last_seq FROM runs WHERE run_id = ?').get(request.runId) as { last_seq: number } | undefined;
        if (!row) throw new RunNotFoundError(request.runId);
        if (row.last_seq !== request.expectedSeq) throw new AppendConflictError(request.runId, request.expectedSeq, row.last_seq);
        request.events.forEach((e, i) => {
          if (e.seq !== request.expectedSeq + 1 + i) throw new StorageError(`Append to run ${request.runId}: event ${i} has seq ${e.seq}, expected ${request.expectedSeq + 1 + i}.`);
        });
        this.insertEvents(request.events);
        const p = request.run ?? {};
        const updatedAt = request.events.length > 0 ? Math.max(...request.events.map((e) => e.at)) : Date.now();
        this.stmt(
          `UPDATE runs SET status = COALESCE(?, status), result = COALESCE(?, result), error = COALESCE(?, error),
             finished_at = COALESCE(?, finished_at), updated_at = ?, last_seq = ? WHERE run_id = ?`,
        ).run(
          p.status ?? null,
          p.result ?? null,
          p.error ? JSON.stringify(p.error) : null,
          p.finishedAt ?? null,
          updatedAt,
          request.expectedSeq + request.events.length,
          request.runId,
        );
        if (p.attributes) applyAttributePatch((sql) => this.stmt(sql), request.runId, p.attributes);
        for (const t of request.setTimers ?? []) {
          this.stmt(
            `INSERT INTO timers (run_id, timer_id, fire_at, lease_until) VALUES (?, ?, ?, 0)
             ON CONFLICT (run_id, timer_id) DO UPDATE SET fire_at = excluded.fire_at, lease_until = 0`,
          ).run(request.runId, t.timerId, t.fireAt);
        }
        for (const id of request.clearTimers ?? []) this.stmt('DELETE FROM timers WHERE run_id = ? AND timer_id = ?').run(request.runId, id);
        for (const h of request.setHooks ?? []) {
          this.stmt(
            `INSERT INTO hooks (token, run_id, correlation_id, name, created_at, expires_at, consumed_at) VALUES (?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (token) DO UPDATE SET expires_at = excluded.expires_at, consumed_at = excluded.consumed_at`,
          ).run(h.token, h.runId, h.correlationId, h.name, h.createdAt, h.expiresAt ?? null, h.consumedAt ?? null);
        }
        if (request.releaseSlots) this.stmt('DELETE FROM concurrency_slots WHERE run_id = ?').run(request.runId);
      });
      // IMMEDIATE takes the write lock before reading last_seq, so the check and the write are one step
      // even against another process; the primary key (run_id, seq) would refuse a duplicate anyway.
      tx.immediate();
    });
  }

  private insertEvents(events: DurablyEvent[]): void {
    const insert = this.stmt('INSERT INTO events (run_id, seq, type, correlation_id, at, data) VALUES (?, ?, ?, ?, ?, ?)');
    for (const e of events) insert.run(e.runId, e.seq, e.type, e.correlationId ?? null, e.at, JSON.stringify(e.data));
  }

  async readEvents(runId: string, fromSeq = 1, limit?: number): Promise<DurablyEvent[]> {
    return this.guard('read events', () => {
      const rows = this.stmt('SELECT * FROM events WHERE run_id = ? AND seq >= ? ORDER BY seq LIMIT ?').all(runId, fromSeq, limit ?? -1) as EventRow[];
      return rows.map(toEvent);
    });
  }

  async touchRun(runId: string, at: number): Promise<void> {
    this.guard('touch a run', () => this.stmt('UPDATE runs SET updated_at = ? WHERE run_id = ?').run(at, runId));
  }

  async claimDueTimers(now: number, options: { limit: number; leaseMs: number }): Promise<Timer[]> {
    return this.guard('claim timers', () => {
      const tx = this.conn().transaction(() => {
        const rows = this.stmt('SELECT run_id, timer_id, fire_at FROM timers WHERE fire_at <= ? AND lease_until <= ? ORDER BY fire_at LIMIT ?').all(
          now,
          now,
          options.limit,
        ) as Array<{ run_id: string; timer_id: string; fire_at: number }>;
        const lease = this.stmt('UPDATE timers SET lease_until = ? WHERE run_id = ? AND timer_id = ?');
        for (const r of rows) lease.run(now + options.leaseMs, r.run_id, r.timer_id);
        return rows.map((r) => ({ runId: r.run_id, timerId: r.timer_id, fireAt: r.fire_at }));
      });
      return tx.immediate();
    });
  }

  async listTimers(runId: string): Promise<Timer[]> {
    return this.guard('list timers', () =>
      (this.stmt('SELECT timer_id, fire_at FROM timers WHERE run_id = ? ORDER BY fire_at').all(runId) as Array<{ timer_id: string; fire_at: number }>).map((r) => ({
        runId,
        timerId: r.timer_id,
        fireAt: r.fire_at,
      })),
    );
  }

  async deleteFinishedRuns(finishedBefore: number, limit: number): Promise<number> {
    return this.guard('delete finished runs', () => {
      const tx = this.conn().transaction(() => {
        const ids = (
          this.stmt(
            `SELECT run_id FROM runs WHERE finished_at IS NOT NULL AND finished_at < ? AND status IN ('completed', 'failed', 'cancelled', 'continued') LIMIT ?`,
          ).all(finishedBefore, limit) as Array<{ run_id: string }>
        ).map((r) => r.run_id);
        for (const id of ids) {
          this.stmt('DELETE FROM events WHERE run_id = ?').run(id);
          this.stmt('DELETE FROM timers WHERE run_id = ?').run(id);
          this.stmt('DELETE FROM hooks WHERE run_id = ?').run(id);
          this.stmt('DELETE FROM run_tags WHERE run_id = ?').run(id);
          deleteAttributes((sql) => this.stmt(sql), id);
          this.stmt('DELETE FROM checkpoints WHERE run_id = ?').run(id);
          this.stmt('DELETE FROM runs WHERE run_id = ?').run(id);
        }
        return ids.length;
      });
      return tx.immediate();
    });
  }

  async saveSchedule(schedule: ScheduleRecord, expectedVersion?: number): Promise<boolean> {
    return this.guard('save a schedule', () => {
      const buffered = schedule.bufferedSlot !== undefined || (schedule.bufferedSlots?.length ?? 0) > 0;
      const values = [schedule.scheduleId, JSON.stringify(schedule), schedule.paused ? 1 : 0, schedule.nextFireAt ?? null, buffered ? 1 : 0, schedule.version];
      if (expectedVersion === undefined) {
        this.stmt(
          `INSERT INTO schedules (schedule_id, record, paused, next_fire_at, buffered, version, lease_until) VALUES (?, ?, ?, ?, ?, ?, 0)
           ON CONFLICT (schedule_id) DO UPDATE SET record = excluded.record, paused = excluded.paused, next_fire_at = excluded.next_fire_at,
             buffered = excluded.buffered, version = excluded.version, lease_until = 0`,
        ).run(...values);
        return true;
      }
      if (expectedVersion === 0) {
        const created = this.stmt(
          `INSERT INTO schedules (schedule_id, record, paused, next_fire_at, buffered, version, lease_until) VALUES (?, ?, ?, ?, ?, ?, 0) ON CONFLICT (schedule_id) DO NOTHING`,
        ).run(...values);
        return created.changes === 1;
      }
      const result = this.stmt(
        `UPDATE schedules SET record = ?, paused = ?, next_fire_at = ?, buffered = ?, version = ?, lease_until = 0 WHERE schedule_id = ? AND version = ?`,
      ).run(values[1], values[2], values[3], values[4], values[5], schedule.scheduleId, expectedVersion);
      return result.changes === 1;
    });
  }

  async getSchedule(scheduleId: string): Promise<ScheduleRecord | undefined> {
    return this.guard('read a schedule', () => {
      const row = this.stmt('SELECT record FROM schedules WHERE schedule_id = ?').get(scheduleId) as { record: string } | undefined;
      return row ? (JSON.parse(row.record) as ScheduleRecord) : undefined;
    });
  }

  async listSchedules(): Promise<ScheduleRecord[]> {
    return this.guard('list schedules', () =>
      (this.stmt('SELECT record FROM schedules ORDER BY schedule_id').all() as Array<{ record: string }>).map((r) => JSON.parse(r.record) as ScheduleRecord),
    );
  }

  async deleteSchedule(scheduleId: string): Promise<boolean> {
    return this.guard('delete a schedule', () => this.stmt('DELETE FROM schedules WHERE schedule_id = ?').run(scheduleId).changes === 1);
  }

  async claimDueSchedules(now: number, options: { limit: number; leaseMs: number }): Promise<ScheduleRecord[]> {
    return this.guard('claim schedules', () => {
      const tx = this.conn().transaction(() => {
        const rows = this.stmt(
          `SELECT schedule_id, record FROM schedules WHERE paused = 0 AND lease_until <= ? AND (next_fire_at <= ? OR buffered = 1)
           ORDER BY next_fire_at LIMIT ?`,
        ).all(now, now, options.limit) as Array<{ schedule_id: string; record: string }>;
        const lease = this.stmt('UPDATE schedules SET lease_until = ? WHERE schedule_id = ?');
        for (const r of rows) lease.run(now + options.leaseMs, r.schedule_id);
        return rows.map((r) => JSON.parse(r.record) as ScheduleRecord);
      });
      return tx.immediate();
    });
  }

  async putCheckpoint(runId: string, stepId: string, value: string): Promise<void> {
    this.guard('save a checkpoint', () =>
      this.stmt('INSERT INTO checkpoints (run_id, step_id, value) VALUES (?, ?, ?) ON CONFLICT (run_id, step_id) DO UPDATE SET value = excluded.value').run(runId, stepId, value),
    );
  }

  async getCheckpoint(runId: string, stepId: string): Promise<string | undefined> {
    return this.guard('read a checkpoint', () => (this.stmt('SELECT value FROM checkpoints WHERE run_id = ? AND step_id = ?').get(runId, stepId) as { value: string } | undefined)?.value);
  }

  async deleteCheckpoint(runId: string, stepId: string): Promise<void> {
    this.guard('delete a checkpoint', () => this.stmt('DELETE FROM checkpoints WHERE run_id = ? AND step_id = ?').run(runId, stepId));
  }

  async acquireSlot(key: string, runId: string, limit: number): Promise<boolean> {
    return this.guard('acquire a concurrency slot', () => {
      const tx = this.conn().transaction(() => {
        if (this.stmt('SELECT 1 FROM concurrency_slots WHERE key = ? AND run_id = ?').get(key, runId)) return true;
        const { n } = this.stmt('SELECT COUNT(*) AS n FROM concurrency_slots WHERE key = ?').get(key) as { n: number };
        if (n >= limit) return false;
        this.stmt('INSERT INTO concurrency_slots (key, run_id) VALUES (?, ?)').run(key, runId);
        return true;
      });
      // IMMEDIATE: the count and the insert hold the write lock together, across processes.
      return tx.immediate();
    });
  }

  async takePermit(key: string, limit: number, periodMs: number, now: number): Promise<number> {
    return this.guard('take a rate permit', () => {
      const window = Math.floor(now / periodMs);
      const tx = this.conn().transaction(() => {
        const row = this.stmt('SELECT window, used FROM rate_permits WHERE key = ?').get(key) as { window: number; used: number } | undefined;
        if (!row || row.window !== window) {
          if (limit < 1) return (window + 1) * periodMs - now;
          this.stmt('INSERT INTO rate_permits (key, window, used) VALUES (?, ?, 1) ON CONFLICT (key) DO UPDATE SET window = excluded.window, used = 1').run(key, window);
          return 0;
        }
        if (row.used < limit) {
          this.stmt('UPDATE rate_permits SET used = used + 1 WHERE key = ?').run(key);
          return 0;
        }
        return (window + 1) * periodMs - now;
      });
      return tx.immediate();
    });
  }

  async getHook(token: string): Promise<HookRecord | undefined> {
    return this.guard('read a hook', () => {
      const r = this.stmt('SELECT * FROM hooks WHERE token = ?').get(token) as
        | { token: string; run_id: string; correlation_id: string; name: string; created_at: number; expires_at: number | null; consumed_at: number | null }
        | undefined;
      if (!r) return undefined;
      const hook: HookRecord = { token: r.token, runId: r.run_id, correlationId: r.correlation_id, name: r.name, createdAt: r.created_at };
      if (r.expires_at !== null) hook.expiresAt = r.expires_at;
      if (r.consumed_at !== null) hook.consumedAt = r.consumed_at;
      return hook;
    });
  }

  /** The machine's clock: every process that opens this file runs on this machine and shares it. */
  async serverTime(): Promise<number> {
    if (this.closed) throw new StorageError('This LocalStorage is closed.');
    return Date.now();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.statements.clear();
    this.db?.close();
  }
}

function toRecord(row: RunRow): RunRecord {
  const record: RunRecord = {
    runId: row.run_id,
    workflow: row.workflow,
    status: row.status,
    queue: row.queue,
    args: row.args,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    lastSeq: row.last_seq,
  };
  if (row.result !== null) record.result = row.result;
  if (row.error !== null) record.error = JSON.parse(row.error) as SerializedError;
  if (row.idempotency_key !== null) record.idempotencyKey = row.idempotency_key;
  if (row.parent_run_id !== null) record.parentRunId = row.parent_run_id;
  if (row.start_at !== null) record.startAt = row.start_at;
  if (row.finished_at !== null) record.finishedAt = row.finished_at;
  if (row.tags !== null) record.tags = JSON.parse(row.tags) as string[];
  if (row.attributes !== null && row.attributes !== undefined) record.attributes = JSON.parse(row.attributes) as RunRecord['attributes'];
  return record;
}

function toEvent(row: EventRow): DurablyEvent {
  const event = { runId: row.run_id, seq: row.seq, type: row.type, at: row.at, data: JSON.parse(row.data) } as DurablyEvent;
  if (row.correlation_id !== null) event.correlationId = row.correlation_id;
  return event;
}
