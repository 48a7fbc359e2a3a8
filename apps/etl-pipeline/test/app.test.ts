import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { afterAll, expect, it, onTestFinished } from 'vitest';
import { connect } from '@durably/core';
import { startDashboard } from '@durably/dashboard';

const exec = promisify(execFile);
const appDir = resolve(import.meta.dirname, '..');
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'durably-etl-'));
  dirs.push(dir);
  return dir;
}

async function start(env: Record<string, string>, args: string[]) {
  return exec(process.execPath, ['--import', 'tsx', '--conditions=@durably/source', join(appDir, 'src/main.ts'), ...args], {
    cwd: appDir,
    env: { ...process.env, DURABLY_LOG_LEVEL: 'error', ...env },
    timeout: 60_000,
  });
}

it('extracts, transforms and loads 1,000 rows over three runs, resuming a dropped load from its checkpoint (embedded default)', async () => {
  const dir = tempDir();
  const storage = `file:${dir}/durably`;
  const warehouse = join(dir, 'warehouse.db');
  const { stdout } = await start({ DURABLY_STORAGE: storage, DURABLY_BROKER: 'local:' }, ['--job', 'job-1', '--flaky-load', '--warehouse', warehouse]);
  const lines = stdout.trim().split('\n');
  expect(lines).toContain('  page 1: load-rows attempt 1 failed: warehouse connection reset after 60 rows; retrying');
  // Checkpoints every 25 rows: the retry starts after row 50, not at row 1.
  expect(lines).toContain('  page 1: transformed in 4 steps, loaded 100 rows, attempt 2 resumed at row 51 from the checkpoint');
  expect(lines.filter((l) => /^ {2}page \d+: extracted/.test(l))).toHaveLength(10);
  expect(lines).toContain('  page 10: transformed in 4 steps, loaded 100 rows');
  expect(lines.filter((l) => /^run \d \(/.test(l)).map((l) => l.replace(/\(\S+\)/, '()'))).toEqual([
    'run 1 ()',
    'run 2 (): continued as new with a fresh history, 400 rows loaded so far',
    'run 3 (): continued as new with a fresh history, 800 rows loaded so far',
  ]);
  expect(lines.at(-1)).toMatch(/^result: job job-1 loaded 1000 rows from 10 pages in 3 runs; the warehouse holds 1000 rows of the job \(\$[\d.]+\)$/);

  // Rows written again after the drop were upserted: one row per id.
  const db = new Database(warehouse, { readonly: true });
  expect(db.prepare('SELECT COUNT(*) AS n, COUNT(DISTINCT id) AS ids, MIN(id) AS lo, MAX(id) AS hi FROM facts WHERE job = ?').get('job-1')).toEqual({ n: 1000, ids: 1000, lo: 1, hi: 1000 });
  db.close();

  // What the dashboard shows: the job found by its tag, its chain of runs, each run's progress as its input.
  const client = await connect({ storage, broker: 'memory:' });
  try {
    const dashboard = await startDashboard({ client, port: 0 });
    onTestFinished(() => dashboard.close());
    const get = async <T>(path: string) => (await (await fetch(`${dashboard.url}${path}`)).json()) as T;
    // Every run of the job's continue-as-new chain keeps the job's tag.
    const tagged = await get<{ runs: Array<{ runId: string }> }>('/api/runs?tags=job:job-1');
    expect(tagged.runs).toHaveLength(3);
    const chain = await get<{ runs: Array<{ runId: string; status: string }> }>(`/api/runs/${tagged.runs[0].runId}/chain`);
    expect(chain.runs.map((r) => r.status)).toEqual(['continued', 'continued', 'completed']);
    expect(chain.runs.map((r) => r.runId).sort()).toEqual(tagged.runs.map((r) => r.runId).sort());
    const last = await get<{ run: { args: unknown }; steps: Array<{ name: string }> }>(`/api/runs/${chain.runs[2].runId}`);
    expect(JSON.stringify(last.run.args)).toMatch(/"loaded".*800/);
    expect(last.steps.map((s) => s.name)).toEqual(expect.arrayContaining(['etl.extract-page', 'etl.transform-chunk', 'etl.load-rows', 'etl.verify-warehouse']));
  } finally {
    await client.close();
  }
});

it('refuses bad options with the usage', async () => {
  const dir = tempDir();
  const error = (await start({ DURABLY_STORAGE: `file:${dir}`, DURABLY_BROKER: 'local:' }, ['--concurrency', '0']).catch((e: unknown) => e)) as { code: number; stderr: string };
  expect(error.code).toBe(2);
  expect(error.stderr).toContain('--concurrency "0": give a whole number from 1 to 100.');
});

it('runs on Postgres storage and broker by DURABLY_STORAGE and DURABLY_BROKER alone', async () => {
  const url = process.env.DURABLY_TEST_POSTGRES_URL ?? 'postgres://root@127.0.0.1:5432/test';
  const { default: pg } = await import('pg');
  const admin = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await admin.connect();
  } catch (err) {
    if (process.env.CI) throw err;
    return; // no server outside CI: nothing to run against
  }
  const schema = `durably_etl_${Date.now().toString(36)}_${process.pid}`;
  try {
    const target = `${url}?schema=${schema}`;
    const { stdout } = await start({ DURABLY_STORAGE: target, DURABLY_BROKER: target }, ['--job', 'job-pg', '--rows', '300', '--pages-per-run', '2', '--warehouse', join(tempDir(), 'wh.db')]);
    expect(stdout.trim().split('\n').at(-1)).toMatch(/^result: job job-pg loaded 300 rows from 3 pages in 2 runs; the warehouse holds 300 rows/);
    const { rows } = await admin.query(`SELECT status FROM "${schema}".runs ORDER BY created_at`);
    expect(rows.map((r: { status: string }) => r.status)).toEqual(['continued', 'completed']);
  } finally {
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
  }
});
