import {
  type DurablyEvent,
  DurablyError,
  StorageError,
  type AppendRequest,
  type CreateRunResult,
  type HookRecord,
  type NewRun,
  type RunFilter,
  type RunPage,
  type RunRecord,
  type ScheduleRecord,
  type Storage,
  type Timer,
  encodeCursor,
  pageLimit,
} from '@durably/contracts';
import { migrate, openDatabase, type SqliteDatabase } from './db.js';
import { deleteAttributes } from './attributes.js';
import { listRunsQuery } from './list-runs.js';
import type { SqliteDriverName, SqliteStatement } from './driver.js';
import { GroupCommit } from './group-commit.js';
import { insertEvents, writeAppend } from './append.js';
import { type RunRow, type EventRow, toEvent, toRecord } from './run-rows.js';

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

/**
 * The embedded default storage: a SQLite file on disk. Durable across crashes, no server, and safe for
 * several processes at once (writes in IMMEDIATE transactions; readers never block in WAL mode).
 * Every write goes through {@link GroupCommit}: the writes requested in one turn of the event loop
 * share one transaction and one fsync, each in its own savepoint, each settled after the COMMIT.
 */
export class LocalStorage implements Storage {
  private db?: SqliteDatabase;
  private readonly statements = new Map<string, SqliteStatement>();
  private closed = false;
  /** The batches of writes of this storage's connection (its `commits` counts the transactions). */
  readonly commits = new GroupCommit(() => this.conn());
  private readonly prepare = (sql: string) => this.stmt(sql);

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
      throw this.failure(what, err);
    }
  }

  /** Runs the write `fn` in the next batch (see group-commit.ts); settles after its COMMIT. */
  private write<T>(what: string, fn: () => T): Promise<T> {
    return this.commits.run(fn).catch((err: unknown) => {
      throw this.failure(what, err);
    });
  }

  private failure(what: string, err: unknown): Error {
    if (err instanceof DurablyError) return err;
    return new StorageError(`Local storage (${this.options.path}) failed to ${what}: ${(err as Error).message}`, { cause: err });
  }

  async migrate(): Promise<void> {
    this.guard('migrate', () => migrate(this.conn()));
  }

  async createRun(run: NewRun): Promise<CreateRunResult> {
    return this.write('create a run', () => {
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
      insertEvents(this.prepare, [{ ...run.firstEvent, seq: 1 } as DurablyEvent]);
      return { run: toRecord(this.stmt('SELECT * FROM runs WHERE run_id = ?').get(run.runId) as RunRow), created: true };
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
    // The batch's IMMEDIATE transaction holds the write lock before last_seq is read, so the check and
    // the write are one step even against another process; the primary key (run_id, seq) would refuse
    // a duplicate anyway.
    await this.write('append events', () => writeAppend(this.prepare, request));
  }

  async readEvents(runId: string, fromSeq = 1, limit?: number): Promise<DurablyEvent[]> {
    return this.guard('read events', () => {
      const rows = this.stmt('SELECT * FROM events WHERE run_id = ? AND seq >= ? ORDER BY seq LIMIT ?').all(runId, fromSeq, limit ?? -1) as EventRow[];
      return rows.map(toEvent);
    });
  }

  async touchRun(runId: string, at: number): Promise<void> {
    await this.write('touch a run', () => this.stmt('UPDATE runs SET updated_at = ? WHERE run_id = ?').run(at, runId));
  }

  async claimDueTimers(now: number, options: { limit: number; leaseMs: number }): Promise<Timer[]> {
    return this.write('claim timers', () => {
      const rows = this.stmt('SELECT run_id, timer_id, fire_at FROM timers WHERE fire_at <= ? AND lease_until <= ? ORDER BY fire_at LIMIT ?').all(
        now,
        now,
        options.limit,
      ) as Array<{ run_id: string; timer_id: string; fire_at: number }>;
      const lease = this.stmt('UPDATE timers SET lease_until = ? WHERE run_id = ? AND timer_id = ?');
      for (const r of rows) lease.run(now + options.leaseMs, r.run_id, r.timer_id);
      return rows.map((r) => ({ runId: r.run_id, timerId: r.timer_id, fireAt: r.fire_at }));
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
    return this.write('delete finished runs', () => {
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
        deleteAttributes(this.prepare, id);
        this.stmt('DELETE FROM checkpoints WHERE run_id = ?').run(id);
        this.stmt('DELETE FROM runs WHERE run_id = ?').run(id);
      }
      return ids.length;
    });
  }

  async saveSchedule(schedule: ScheduleRecord, expectedVersion?: number): Promise<boolean> {
    return this.write('save a schedule', () => {
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
    return this.write('delete a schedule', () => this.stmt('DELETE FROM schedules WHERE schedule_id = ?').run(scheduleId).changes === 1);
  }

  async claimDueSchedules(now: number, options: { limit: number; leaseMs: number }): Promise<ScheduleRecord[]> {
    return this.write('claim schedules', () => {
      const rows = this.stmt(
        `SELECT schedule_id, record FROM schedules WHERE paused = 0 AND lease_until <= ? AND (next_fire_at <= ? OR buffered = 1)
         ORDER BY next_fire_at LIMIT ?`,
      ).all(now, now, options.limit) as Array<{ schedule_id: string; record: string }>;
      const lease = this.stmt('UPDATE schedules SET lease_until = ? WHERE schedule_id = ?');
      for (const r of rows) lease.run(now + options.leaseMs, r.schedule_id);
      return rows.map((r) => JSON.parse(r.record) as ScheduleRecord);
    });
  }

  async putCheckpoint(runId: string, stepId: string, value: string): Promise<void> {
    await this.write('save a checkpoint', () =>
      this.stmt('INSERT INTO checkpoints (run_id, step_id, value) VALUES (?, ?, ?) ON CONFLICT (run_id, step_id) DO UPDATE SET value = excluded.value').run(runId, stepId, value),
    );
  }

  async getCheckpoint(runId: string, stepId: string): Promise<string | undefined> {
    return this.guard('read a checkpoint', () => (this.stmt('SELECT value FROM checkpoints WHERE run_id = ? AND step_id = ?').get(runId, stepId) as { value: string } | undefined)?.value);
  }

  async deleteCheckpoint(runId: string, stepId: string): Promise<void> {
    await this.write('delete a checkpoint', () => this.stmt('DELETE FROM checkpoints WHERE run_id = ? AND step_id = ?').run(runId, stepId));
  }

  async acquireSlot(key: string, runId: string, limit: number): Promise<boolean> {
    return this.write('acquire a concurrency slot', () => {
      if (this.stmt('SELECT 1 FROM concurrency_slots WHERE key = ? AND run_id = ?').get(key, runId)) return true;
      const { n } = this.stmt('SELECT COUNT(*) AS n FROM concurrency_slots WHERE key = ?').get(key) as { n: number };
      if (n >= limit) return false;
      this.stmt('INSERT INTO concurrency_slots (key, run_id) VALUES (?, ?)').run(key, runId);
      return true;
    });
  }

  async takePermit(key: string, limit: number, periodMs: number, now: number): Promise<number> {
    return this.write('take a rate permit', () => {
      const window = Math.floor(now / periodMs);
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
    // The writes already requested are written (and settled) first, as they would have been anyway.
    await this.commits.drained();
    if (this.closed) return;
    this.closed = true;
    this.statements.clear();
    this.db?.close();
  }
}
