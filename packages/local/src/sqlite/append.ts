import { type AppendRequest, type DurablyEvent, AppendConflictError, RunNotFoundError, StorageError } from '@durably/contracts';
import { applyAttributePatch } from './attributes.js';
import type { SqliteStatement } from './driver.js';

/** The storage's cached prepared statement of `sql`. */
export type Prepare = (sql: string) => SqliteStatement;

/**
 * The SQL of one conditional append, run inside a transaction: checks `expectedSeq` against the run's
 * `last_seq` (AppendConflictError when another writer got there first), inserts the events, updates
 * the run's row and its timers, hooks, attributes and concurrency slots.
 */
export function writeAppend(stmt: Prepare, request: AppendRequest): void {
  const row = stmt('SELECT last_seq FROM runs WHERE run_id = ?').get(request.runId) as { last_seq: number } | undefined;
  if (!row) throw new RunNotFoundError(request.runId);
  if (row.last_seq !== request.expectedSeq) throw new AppendConflictError(request.runId, request.expectedSeq, row.last_seq);
  request.events.forEach((e, i) => {
    if (e.seq !== request.expectedSeq + 1 + i) throw new StorageError(`Append to run ${request.runId}: event ${i} has seq ${e.seq}, expected ${request.expectedSeq + 1 + i}.`);
  });
  insertEvents(stmt, request.events);
  const p = request.run ?? {};
  const updatedAt = request.events.length > 0 ? Math.max(...request.events.map((e) => e.at)) : Date.now();
  stmt(
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
  if (p.attributes) applyAttributePatch((sql) => stmt(sql), request.runId, p.attributes);
  for (const t of request.setTimers ?? []) {
    stmt(
      `INSERT INTO timers (run_id, timer_id, fire_at, lease_until) VALUES (?, ?, ?, 0)
       ON CONFLICT (run_id, timer_id) DO UPDATE SET fire_at = excluded.fire_at, lease_until = 0`,
    ).run(request.runId, t.timerId, t.fireAt);
  }
  for (const id of request.clearTimers ?? []) stmt('DELETE FROM timers WHERE run_id = ? AND timer_id = ?').run(request.runId, id);
  for (const h of request.setHooks ?? []) {
    stmt(
      `INSERT INTO hooks (token, run_id, correlation_id, name, created_at, expires_at, consumed_at) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (token) DO UPDATE SET expires_at = excluded.expires_at, consumed_at = excluded.consumed_at`,
    ).run(h.token, h.runId, h.correlationId, h.name, h.createdAt, h.expiresAt ?? null, h.consumedAt ?? null);
  }
  if (request.releaseSlots) stmt('DELETE FROM concurrency_slots WHERE run_id = ?').run(request.runId);
}

export function insertEvents(stmt: Prepare, events: DurablyEvent[]): void {
  const insert = stmt('INSERT INTO events (run_id, seq, type, correlation_id, at, data) VALUES (?, ?, ?, ?, ?, ?)');
  for (const e of events) insert.run(e.runId, e.seq, e.type, e.correlationId ?? null, e.at, JSON.stringify(e.data));
}
