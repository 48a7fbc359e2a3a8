import type { AppendRequest } from '@durably/contracts';

/**
 * The conditional append of a batch of runs as one statement: a chain of data-modifying CTEs that
 * updates each run row only if its `last_seq` still equals that run's `expectedSeq`, and writes the
 * events, timers, hook entries, slot releases and finish notices of the runs it updated, and of no
 * other. One statement is one round trip and, in autocommit, one transaction and one commit (one WAL
 * flush) for every run of the batch; a run whose `last_seq` moved is left out alone (its row is not
 * in `upd`, so nothing of its request is written) and the statement returns the runs it updated.
 *
 * A concurrent writer of a run blocks on its row (READ COMMITTED re-reads the row once the other
 * commits and re-checks `last_seq`), so the statement fences workers exactly as one append per
 * statement did. The batch holds each run at most once (the caller's batcher keys requests by run),
 * so no row is updated twice in one statement.
 */
export function appendBatchSql(S: string): string {
  return `WITH req AS (
       SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::bigint[], $8::int[], $9::text[], $10::boolean[])
         AS r(run_id, expected_seq, status, result, error, finished_at, updated_at, last_seq, attributes, release_slots)
     ), upd AS (
       UPDATE ${S}.runs SET
         status = COALESCE(req.status, runs.status), result = COALESCE(req.result, runs.result), error = COALESCE(req.error::jsonb, runs.error),
         finished_at = COALESCE(req.finished_at, runs.finished_at), updated_at = req.updated_at, last_seq = req.last_seq,
         -- The patch merges in; its null values remove their keys; no attributes left is NULL.
         attributes = CASE WHEN req.attributes IS NULL THEN runs.attributes
           ELSE NULLIF(jsonb_strip_nulls(COALESCE(runs.attributes, '{}'::jsonb) || req.attributes::jsonb), '{}'::jsonb) END
       FROM req
       WHERE runs.run_id = req.run_id AND runs.last_seq = req.expected_seq
       RETURNING runs.run_id, req.finished_at, req.release_slots
     ), ev AS (
       INSERT INTO ${S}.events (run_id, seq, type, correlation_id, at, data)
       SELECT e.run_id, e.seq, e.type, e.cid, e.at, e.data
       FROM unnest($11::text[], $12::int[], $13::text[], $14::text[], $15::bigint[], $16::text[]) AS e(run_id, seq, type, cid, at, data)
       WHERE e.run_id IN (SELECT run_id FROM upd)
     ), tset AS (
       INSERT INTO ${S}.timers (run_id, timer_id, fire_at, lease_until)
       SELECT t.run_id, t.id, t.fire_at, 0 FROM unnest($17::text[], $18::text[], $19::bigint[]) AS t(run_id, id, fire_at)
       WHERE t.run_id IN (SELECT run_id FROM upd)
       ON CONFLICT (run_id, timer_id) DO UPDATE SET fire_at = EXCLUDED.fire_at, lease_until = 0
     ), tclr AS (
       DELETE FROM ${S}.timers t USING unnest($20::text[], $21::text[]) AS c(run_id, id)
       WHERE t.run_id = c.run_id AND t.timer_id = c.id AND c.run_id IN (SELECT run_id FROM upd)
     ), hk AS (
       INSERT INTO ${S}.hooks (token, run_id, correlation_id, name, created_at, expires_at, consumed_at)
       SELECT h.token, h."runId", h."correlationId", h.name, h."createdAt", h."expiresAt", h."consumedAt"
       FROM jsonb_to_recordset($22::jsonb) AS h("runId" text, token text, "correlationId" text, name text, "createdAt" bigint, "expiresAt" bigint, "consumedAt" bigint)
       WHERE h."runId" IN (SELECT run_id FROM upd)
       ON CONFLICT (token) DO UPDATE SET expires_at = EXCLUDED.expires_at, consumed_at = EXCLUDED.consumed_at
     ), slots AS (
       DELETE FROM ${S}.concurrency_slots s USING upd WHERE s.run_id = upd.run_id AND upd.release_slots
     ), done AS (
       -- Sent at commit: clients waiting on result() in any process hear that the run finished.
       SELECT pg_notify($23, upd.run_id) FROM upd WHERE upd.finished_at IS NOT NULL
     )
     SELECT (SELECT coalesce(array_agg(run_id), '{}') FROM upd) AS updated, (SELECT count(*) FROM done) AS notified`;
}

/** The parameters of {@link appendBatchSql} for `requests` (each run at most once). */
export function appendBatchParams(requests: AppendRequest[], finishedChannel: string): unknown[] {
  const runs: unknown[][] = Array.from({ length: 10 }, () => []);
  const events: unknown[][] = Array.from({ length: 6 }, () => []);
  const timers: unknown[][] = [[], [], []];
  const cleared: unknown[][] = [[], []];
  const hooks: unknown[] = [];
  for (const request of requests) {
    const { runId, expectedSeq } = request;
    const p = request.run ?? {};
    let at = -Infinity;
    for (const e of request.events) {
      if (e.at > at) at = e.at;
      events[0].push(runId);
      events[1].push(e.seq);
      events[2].push(e.type);
      events[3].push(e.correlationId ?? null);
      events[4].push(e.at);
      events[5].push(JSON.stringify(e.data));
    }
    const row = [
      runId,
      expectedSeq,
      p.status ?? null,
      p.result ?? null,
      p.error ? JSON.stringify(p.error) : null,
      p.finishedAt ?? null,
      request.events.length > 0 ? at : Date.now(),
      expectedSeq + request.events.length,
      p.attributes ? JSON.stringify(p.attributes) : null,
      request.releaseSlots === true,
    ];
    row.forEach((v, i) => runs[i].push(v));
    for (const t of request.setTimers ?? []) {
      timers[0].push(runId);
      timers[1].push(t.timerId);
      timers[2].push(t.fireAt);
    }
    for (const id of request.clearTimers ?? []) {
      cleared[0].push(runId);
      cleared[1].push(id);
    }
    for (const h of request.setHooks ?? []) hooks.push({ ...h, runId });
  }
  return [...runs, ...events, ...timers, ...cleared, JSON.stringify(hooks), finishedChannel];
}
