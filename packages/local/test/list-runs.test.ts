import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { encodeCursor, type RunFilter } from '@durably/contracts';
import { listRunsQuery } from '../src/sqlite/list-runs.js';
import { migrate, openDatabase } from '../src/sqlite/db.js';

const dir = mkdtempSync(join(tmpdir(), 'durably-list-runs-'));
const db = openDatabase(dir);
migrate(db);
afterAll(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

/** SQLite's plan of listRuns(filter): the index it reads, and whether it sorts the rows it found. */
function plan(filter: RunFilter): string {
  const { sql, params } = listRunsQuery(filter);
  return (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params, 51) as Array<{ detail: string }>).map((r) => r.detail).join('; ');
}

// A page must not cost more as finished runs pile up (tools/bench B7): each filter reads an index in
// the page's order and stops at the page's end, with no sort of every run that matches.
it.each<[string, RunFilter, string]>([
  ['no filter', {}, 'runs_created'],
  ['a status', { status: 'completed' }, 'runs_status_created'],
  ['a status, after a cursor', { status: 'failed', cursor: encodeCursor(1000, 'r1') }, 'runs_status_created'],
  ['a workflow', { workflow: 'wf' }, 'runs_workflow'],
  ['a parent', { parentRunId: 'p' }, 'runs_parent'],
])('a page of runs by %s reads an index in order, without sorting', (_, filter, index) => {
  const p = plan(filter);
  expect(p).toContain(`INDEX ${index}`);
  expect(p).not.toContain('TEMP B-TREE');
});

it('the stale-run sweep reads only unfinished runs, by status and update time', () => {
  // Few rows match (pending and running ones): sorting them is cheap; the finished ones are not read.
  const p = plan({ status: ['pending', 'running'], updatedBefore: 1000, limit: 100 });
  expect(p).toMatch(/INDEX runs_status(_created)? \(status=\?/);
});
