import type { DurablyEvent, RunRecord, RunStatus, SerializedError } from '@durably/contracts';

/** The rows of the runs and events tables as SQLite returns them, and the records they become. */
export interface RunRow {
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

export interface EventRow {
  run_id: string;
  seq: number;
  type: string;
  correlation_id: string | null;
  at: number;
  data: string;
}

export function toRecord(row: RunRow): RunRecord {
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

export function toEvent(row: EventRow): DurablyEvent {
  const event = { runId: row.run_id, seq: row.seq, type: row.type, at: row.at, data: JSON.parse(row.data) } as DurablyEvent;
  if (row.correlation_id !== null) event.correlationId = row.correlation_id;
  return event;
}
