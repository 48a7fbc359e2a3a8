import { type AttributePatch, type Attributes, attributeIndexValue } from '@durably/contracts';
import type { SqliteStatement } from './driver.js';

/**
 * Search attributes in SQLite: the record keeps them as JSON (`runs.attributes`), and `run_attributes`
 * holds one row per (key, typed value, created_at, run_id), its primary key, so listRuns({ attributes })
 * reads the runs of a (key, value) from that index, newest first, instead of scanning the runs.
 */

/** The statement of `sql`, prepared once per connection (the storage's cache). */
type Prepare = (sql: string) => SqliteStatement;

/** The migration that adds them (appended to the storage's list of migrations). */
export const ATTRIBUTES_MIGRATION = `
  ALTER TABLE runs ADD COLUMN attributes TEXT;
  CREATE TABLE IF NOT EXISTS run_attributes (
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    run_id TEXT NOT NULL,
    PRIMARY KEY (key, value, created_at, run_id)
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS run_attributes_run ON run_attributes (run_id, key);
`;

/** The WHERE clauses (with their parameters) that keep the runs having every attribute of `filter`. */
export function attributeClauses(filter: Attributes | undefined): { where: string[]; params: Array<string> } {
  const where: string[] = [];
  const params: string[] = [];
  for (const [key, value] of Object.entries(filter ?? {})) {
    where.push('run_id IN (SELECT run_id FROM run_attributes WHERE key = ? AND value = ?)');
    params.push(key, attributeIndexValue(value));
  }
  return { where, params };
}

/** Inside the append's transaction: merges `patch` into the run's attributes and moves its index rows. */
export function applyAttributePatch(prepare: Prepare, runId: string, patch: AttributePatch): void {
  const row = prepare('SELECT created_at, attributes FROM runs WHERE run_id = ?').get(runId) as { created_at: number; attributes: string | null };
  const next: Attributes = row.attributes === null ? {} : (JSON.parse(row.attributes) as Attributes);
  const remove = prepare('DELETE FROM run_attributes WHERE run_id = ? AND key = ?');
  const insert = prepare('INSERT INTO run_attributes (key, value, created_at, run_id) VALUES (?, ?, ?, ?)');
  for (const [key, value] of Object.entries(patch)) {
    remove.run(runId, key);
    if (value === null) {
      delete next[key];
      continue;
    }
    next[key] = value;
    insert.run(key, attributeIndexValue(value), row.created_at, runId);
  }
  prepare('UPDATE runs SET attributes = ? WHERE run_id = ?').run(Object.keys(next).length > 0 ? JSON.stringify(next) : null, runId);
}

/** Retention: the run's index rows go with it. */
export function deleteAttributes(prepare: Prepare, runId: string): void {
  prepare('DELETE FROM run_attributes WHERE run_id = ?').run(runId);
}
