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

async function start(args: string[]) {
  const dir = mkdtempSync(join(tmpdir(), 'durably-review-'));
  dirs.push(dir);
  return run(process.execPath, ['--import', 'tsx', '--conditions=@durably/source', join(appDir, 'src/main.ts'), ...args], {
    cwd: appDir,
    env: { ...process.env, DURABLY_STORAGE: `file:${dir}`, DURABLY_BROKER: 'local:' },
    timeout: 60_000,
  });
}

it('gathers every finding, suspends for approval, and publishes once approved (embedded default)', async () => {
  const { stdout } = await start(['--subtopics', 'cost,latency,risk', '--reviewer', 'kim']);
  const lines = stdout.trim().split('\n');
  expect(lines[0]).toMatch(/^run \S+: stream "research-review" run review-\S+, 3 subtopics$/);
  expect(lines).toContain('  - cost: 4 key facts found');
  expect(lines).toContain('  - latency: 7 key facts found');
  expect(lines).toContain('  - risk: 4 key facts found');
  // plan + 3 assignments + 3 findings, then the planner waits.
  expect(stdout).toContain('planner suspended after signal #7');
  expect(lines.at(-1)).toBe('result: {"published":true,"message":"Published \\"Is durable execution worth it?\\" (3 findings, approved by kim)"}');
});

it('does not publish when the reviewer rejects', async () => {
  const { stdout } = await start(['--subtopics', 'one', '--decision', 'reject', '--reviewer', 'sam']);
  const result = JSON.parse(stdout.trim().split('\n').at(-1)!.replace(/^result: /, ''));
  expect(result).toMatchObject({ published: false, reason: 'rejected by sam' });
});
