import { decodeCursor, type RunFilter } from '@durably/contracts';
import { attributeClauses } from './attributes.js';
import type { SqlValue } from './driver.js';

/**
 * The SELECT of `listRuns(filter)`, newest first, its page size left as the last parameter. Each
 * filter reads an index in that order (runs_workflow, runs_status_created, runs_parent, or
 * runs_created), so a page costs the same however many finished runs the file holds
 * (test/list-runs.test.ts checks the plans).
 */
export function listRunsQuery(filter: RunFilter): { sql: string; params: SqlValue[] } {
  const where: string[] = [];
  const params: SqlValue[] = [];
  if (filter.workflow !== undefined) {
    where.push('workflow = ?');
    params.push(filter.workflow);
  }
  if (filter.status !== undefined) {
    const statuses = Array.isArray(filter.status) ? filter.status : [filter.status];
    where.push(`status IN (${statuses.map(() => '?').join(', ') || 'NULL'})`);
    params.push(...statuses);
  }
  if (filter.parentRunId !== undefined) {
    where.push('parent_run_id = ?');
    params.push(filter.parentRunId);
  }
  if (filter.createdAfter !== undefined) {
    where.push('created_at >= ?');
    params.push(filter.createdAfter);
  }
  if (filter.createdBefore !== undefined) {
    where.push('created_at < ?');
    params.push(filter.createdBefore);
  }
  if (filter.updatedBefore !== undefined) {
    where.push('updated_at < ?');
    params.push(filter.updatedBefore);
  }
  for (const tag of filter.tags ?? []) {
    where.push('run_id IN (SELECT run_id FROM run_tags WHERE tag = ?)');
    params.push(tag);
  }
  const byAttributes = attributeClauses(filter.attributes);
  where.push(...byAttributes.where);
  params.push(...byAttributes.params);
  if (filter.cursor) {
    const c = decodeCursor(filter.cursor);
    where.push('(created_at < ? OR (created_at = ? AND run_id < ?))');
    params.push(c.createdAt, c.createdAt, c.runId);
  }
  const sql = `SELECT * FROM runs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, run_id DESC LIMIT ?`;
  return { sql, params };
}
