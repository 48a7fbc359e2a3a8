import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Client, LocalBroker, LocalStorage, sleep, step, workflow, type DurablyEvent } from '@durably/core';

/**
 * Crash safety on the embedded default: a worker process is killed with SIGKILL in the middle of a
 * step and in the middle of a sleep; another worker process started afterwards finishes the run,
 * and every completed step's result is in the log exactly once.
 */
const root = resolve(import.meta.dirname, '../../..');
const fixture = join(import.meta.dirname, 'fixtures/crash-worker.ts');

// Same definition as the fixture's, so that this process can start the run (it runs no steps).
const work = step('crash.work', async (label: string) => label);
const crashFlow = workflow('crash.flow', async (sleepMs: number) => {
  const a = await work('one');
  const b = await work('two');
  await sleep(sleepMs);
  const c = await work('three');
  return [a, b, c];
});

const rows = step('crash.rows', async (count: number) => count);
const rowsFlow = workflow('crash.rows-flow', async (count: number) => rows(count));

const children: ChildProcess[] = [];
const dirs: string[] = [];

function spawnWorker(dir: string, slowStep = '', extraEnv: Record<string, string> = {}): ChildProcess {
  // node itself runs the worker (tsx as a loader), so SIGKILL hits the worker process, not a wrapper.
  const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=@durably/source', fixture], {
    cwd: root,
    env: { ...process.env, DURABLY_TEST_DIR: dir, SLOW_STEP: slowStep, ...extraEnv },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  children.push(child);
  return child;
}

function effects(dir: string): string[] {
  const file = join(dir, 'effects.log');
  return existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n') : [];
}

async function waitFor(predicate: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error('timed out waiting for condition');
    await new Promise((r) => setTimeout(r, 25));
  }
}

function kill9(child: ChildProcess): Promise<void> {
  return new Promise((done) => {
    child.once('exit', () => done());
    child.kill('SIGKILL');
  });
}

function completedSteps(events: DurablyEvent[]) {
  return events.filter((e): e is Extract<DurablyEvent, { type: 'step_completed' }> => e.type === 'step_completed');
}

afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('crash safety of the embedded default (SIGKILL)', () => {
  async function setup() {
    const dir = mkdtempSync(join(tmpdir(), 'durably-crash-'));
    dirs.push(dir);
    const client = new Client({ storage: new LocalStorage({ path: dir }), broker: new LocalBroker({ path: dir }) });
    await client.ensureReady();
    return { dir, client };
  }

  it('finishes a run whose worker was killed during a step; each result recorded once', async () => {
    const { dir, client } = await setup();
    try {
      const first = spawnWorker(dir, 'two');
      const run = await client.start(crashFlow, 10);
      await waitFor(() => effects(dir).some((l) => l.startsWith('start two')));
      await kill9(first);

      spawnWorker(dir);
      const result = await run.result({ timeout: '25s' }).catch((e: unknown) => e);
      expect(result, `effects:\n${effects(dir).join('\n')}`).toEqual(['one-ok', 'two-ok', 'three-ok']);

      const lines = effects(dir);
      expect(lines.filter((l) => l.startsWith('done one'))).toHaveLength(1); // recorded before the crash: never re-run
      expect(lines.filter((l) => l.startsWith('start two')).length).toBe(2); // interrupted, then run again
      expect(lines.filter((l) => l.startsWith('done two'))).toHaveLength(1);
      expect(lines.filter((l) => l.startsWith('done three'))).toHaveLength(1);
      const events = await run.events();
      const completed = completedSteps(events);
      expect(completed.map((e) => e.data.result)).toHaveLength(3);
      expect(new Set(completed.map((e) => e.correlationId)).size).toBe(3);
      expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
      expect(events.filter((e) => e.type === 'run_completed')).toHaveLength(1);
    } finally {
      await client.close();
    }
  });

  it('hands work back on SIGTERM: another worker finishes the run without waiting for the visibility timeout', async () => {
    const { dir, client } = await setup();
    try {
      // Visibility timeout and staleness far longer than the test: only a hand-back can make it pass.
      const long = { VISIBILITY: '120s' };
      const first = spawnWorker(dir, 'two', long);
      const run = await client.start(crashFlow, 10);
      await waitFor(() => effects(dir).some((l) => l.startsWith('start two')));
      spawnWorker(dir, '', long);
      await waitFor(() => effects(dir).filter((l) => l.startsWith('worker up')).length === 2);
      const t0 = Date.now();
      first.kill('SIGTERM');
      expect(await run.result({ timeout: '30s' })).toEqual(['one-ok', 'two-ok', 'three-ok']);
      expect(Date.now() - t0).toBeLessThan(20_000);
      await waitFor(() => first.exitCode !== null);
      expect(effects(dir).some((l) => l.startsWith(`stopped pid=${first.pid}`))).toBe(true);
      expect(completedSteps(await run.events())).toHaveLength(3);
    } finally {
      await client.close();
    }
  });

  it('resumes a step killed mid-way from its checkpoint on the next attempt', async () => {
    const { dir, client } = await setup();
    try {
      const first = spawnWorker(dir, 'rows');
      const run = await client.start(rowsFlow, 10);
      await waitFor(() => effects(dir).some((l) => l.startsWith('row 5')));
      await kill9(first);
      spawnWorker(dir);
      expect(await run.result({ timeout: '60s' })).toBe(10);
      const rowLines = effects(dir).filter((l) => l.startsWith('row '));
      // Rows 1-5 ran in the killed worker, 6-10 in the next one: none twice.
      expect(rowLines.map((l) => Number(l.split(' ')[1]))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      expect(rowLines.slice(5).every((l) => !l.endsWith(`pid=${first.pid}`))).toBe(true);
    } finally {
      await client.close();
    }
  });

  it('finishes a run whose worker was killed during a sleep; nothing runs twice', async () => {
    const { dir, client } = await setup();
    try {
      const first = spawnWorker(dir);
      const run = await client.start(crashFlow, 1500);
      await waitFor(async () => (await run.events()).some((e) => e.type === 'sleep_started'));
      await kill9(first);
      expect(await run.status()).toBe('suspended');

      spawnWorker(dir);
      expect(await run.result({ timeout: '60s' })).toEqual(['one-ok', 'two-ok', 'three-ok']);
      const lines = effects(dir);
      for (const label of ['one', 'two', 'three']) {
        expect(lines.filter((l) => l.startsWith(`start ${label}`))).toHaveLength(1);
        expect(lines.filter((l) => l.startsWith(`done ${label}`))).toHaveLength(1);
      }
      const events = await run.events();
      expect(completedSteps(events)).toHaveLength(3);
      expect(events.filter((e) => e.type === 'sleep_completed')).toHaveLength(1);
      const started = events.find((e) => e.type === 'sleep_started')!;
      const woke = events.find((e) => e.type === 'sleep_completed')!;
      expect(woke.at - started.at).toBeGreaterThanOrEqual(1500);
    } finally {
      await client.close();
    }
  });
});
