import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, expect, it } from 'vitest';

const run = promisify(execFile);
const appDir = resolve(import.meta.dirname, '..');
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function start(args: string[], backends?: Record<string, string>) {
  const dir = mkdtempSync(join(tmpdir(), 'durably-review-'));
  dirs.push(dir);
  return run(process.execPath, ['--import', 'tsx', '--conditions=@durably/source', join(appDir, 'src/main.ts'), ...args], {
    cwd: appDir,
    env: { ...process.env, ...(backends ?? { DURABLY_STORAGE: `file:${dir}`, DURABLY_BROKER: 'local:' }) },
    timeout: 60_000,
  });
}

const PUBLISHED_BY_KIM = 'result: {"published":true,"message":"Published \\"Is durable execution worth it?\\" (3 findings, approved by kim)"}';

it('gathers every finding, suspends for approval, and publishes once approved (embedded default)', async () => {
  const { stdout } = await start(['--subtopics', 'cost,latency,risk', '--reviewer', 'kim']);
  const lines = stdout.trim().split('\n');
  expect(lines[0]).toMatch(/^run \S+: stream "research-review" run review-\S+, 3 subtopics$/);
  expect(lines).toContain('  - cost: 4 key facts found');
  expect(lines).toContain('  - latency: 7 key facts found');
  expect(lines).toContain('  - risk: 4 key facts found');
  // plan + 3 assignments + 3 findings, then the planner waits.
  expect(stdout).toContain('planner suspended after signal #7');
  expect(lines.at(-1)).toBe(PUBLISHED_BY_KIM);
});

it('does not publish when the reviewer rejects', async () => {
  const { stdout } = await start(['--subtopics', 'one', '--decision', 'reject', '--reviewer', 'sam']);
  const result = JSON.parse(stdout.trim().split('\n').at(-1)!.replace(/^result: /, ''));
  expect(result).toMatchObject({ published: false, reason: 'rejected by sam' });
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
  const schema = `durably_review_${Date.now().toString(36)}_${process.pid}`;
  try {
    const target = `${url}?schema=${schema}`;
    const { stdout } = await start(['--subtopics', 'cost,latency,risk', '--reviewer', 'kim'], { DURABLY_STORAGE: target, DURABLY_BROKER: target });
    expect(stdout.trim().split('\n').at(-1)).toBe(PUBLISHED_BY_KIM);
    // The workflow's run and the stream's run (a run of the built-in durably.stream workflow).
    const { rows } = await admin.query(`SELECT workflow, status FROM "${schema}".runs ORDER BY workflow`);
    expect(rows).toEqual([
      { workflow: 'durably.stream', status: 'completed' },
      { workflow: 'research-review', status: 'completed' },
    ]);
  } finally {
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
  }
});

