import type { NewRun } from '@durably/contracts';

/**
 * The creation of a batch of runs as one statement: each run row with its `run_created` event, one
 * round trip and one commit for all of them. `ON CONFLICT DO NOTHING` (on the run id or the
 * per-workflow key) leaves out a run that exists, or that another run of the batch or a racing insert
 * took the key of, and writes nothing of it; the statement returns the rows it inserted and the
 * caller reads the winner of each one left out.
 */
export function createRunsSql(S: string): string {
  return `WITH req AS (
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::bigint[], $9::text[], $10::bigint[], $11::text[], $12::text[])
         WITH ORDINALITY AS r(run_id, workflow, queue, args, idempotency_key, parent_run_id, created_at, start_at, type, at, data, tags, i)
     ), ins AS (
       INSERT INTO ${S}.runs (run_id, workflow, status, queue, args, idempotency_key, parent_run_id, created_at, updated_at, start_at, last_seq, tags)
       SELECT run_id, workflow, 'pending', queue, args, idempotency_key, parent_run_id, created_at, created_at, start_at, 1,
         CASE WHEN tags IS NULL THEN NULL ELSE ARRAY(SELECT jsonb_array_elements_text(tags::jsonb)) END
       FROM req ORDER BY i
       ON CONFLICT DO NOTHING
       RETURNING *
     ), ev AS (
       INSERT INTO ${S}.events (run_id, seq, type, correlation_id, at, data)
       SELECT req.run_id, 1, req.type, NULL, req.at, req.data FROM req JOIN ins ON ins.run_id = req.run_id
     )
     SELECT * FROM ins`;
}

export function createRunsParams(runs: NewRun[]): unknown[] {
  return [
    runs.map((r) => r.runId),
    runs.map((r) => r.workflow),
    runs.map((r) => r.queue),
    runs.map((r) => r.args),
    runs.map((r) => r.idempotencyKey ?? null),
    runs.map((r) => r.parentRunId ?? null),
    runs.map((r) => r.createdAt),
    runs.map((r) => r.startAt ?? null),
    runs.map((r) => r.firstEvent.type),
    runs.map((r) => r.firstEvent.at),
    runs.map((r) => JSON.stringify(r.firstEvent.data)),
    runs.map((r) => (r.tags?.length ? JSON.stringify(r.tags) : null)),
  ];
}
