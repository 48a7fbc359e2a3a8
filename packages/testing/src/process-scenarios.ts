import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { connect, type DurablyEvent } from '@durably/core';
import { processFlow } from './process/flow.js';

/**
 * Scenarios with real worker processes, for each backend a process can reach by URL: one is killed
 * with SIGKILL mid-step, one gets SIGTERM. The workers run with the default settings (visibility
 * timeout 30 s, step lease 5 s), so the bounds checked here are the ones a deployment gets.
 */
export interface ProcessBackend {
  /** DURABLY_STORAGE / DURABLY_BROKER of the worker processes (and of the test's client). */
  storage: string;
  broker: string;
}

const here = dirname(fileURLToPath(import.meta.url));
const fixture = ['worker-process.ts', 'worker-process.js'].map((f) => join(here, 'process', f)).find((f) => existsSync(f))!;

interface Scene {
  effects: string;
  spawnWorker(env?: Record<string, string>): ChildProcess;
  /** The effect lines so far: `<what> pid=<pid> t=<epoch ms>`. */
  lines(): Array<{ what: string; pid: number; t: number }>;
  waitFor(predicate: () => boolean, timeoutMs?: number): Promise<void>;
}

async function withScene<T>(backend: ProcessBackend, body: (scene: Scene) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'durably-process-'));
  const effects = join(dir, 'effects.log');
  const children: ChildProcess[] = [];
  const scene: Scene = {
    effects,
    spawnWorker(env = {}) {
      // node runs the worker itself (tsx as a loader for the TypeScript source), so signals reach it, not a wrapper.
      const args = fixture.endsWith('.ts') ? ['--import', 'tsx', '--conditions=@durably/source', fixture] : [fixture];
      const child = spawn(process.execPath, args, {
        cwd: here,
        env: { ...process.env, DURABLY_STORAGE: backend.storage, DURABLY_BROKER: backend.broker, DURABLY_EFFECTS: effects, ...env },
        stdio: ['ignore', 'inherit', 'inherit'],
      });
      children.push(child);
      return child;
    },
    lines() {
      if (!existsSync(effects)) return [];
      // A line being written by a worker as this reads is left for the next look.
      return readFileSync(effects, 'utf8')
        .split('\n')
        .flatMap((l) => {
          const m = /^(.*) pid=(\d+) t=(\d+)$/.exec(l);
          return m ? [{ what: m[1], pid: Number(m[2]), t: Number(m[3]) }] : [];
        });
    },
    async waitFor(predicate, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      while (!predicate()) {
        if (Date.now() > deadline) throw new Error(`timed out; effects so far:\n${existsSync(effects) ? readFileSync(effects, 'utf8') : '(none)'}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
  };
  try {
    return await body(scene);
  } finally {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

const up = (scene: Scene, child: ChildProcess) => () => scene.lines().some((l) => l.what === 'worker up' && l.pid === child.pid);
const started = (scene: Scene, label: string, child: ChildProcess) => () => scene.lines().some((l) => l.what.startsWith(`start ${label}`) && l.pid === child.pid);

/**
 * A worker is SIGKILLed while a step runs; another worker, already up, runs the step again and
 * finishes the run. Returns the time from the kill to the step's new start, which the step lease
 * bounds (not the broker's visibility timeout): the assertion allows 20 s for a loaded machine.
 */
export async function workerKilledMidStepScenario(backend: ProcessBackend): Promise<{ recoveredMs: number }> {
  const client = await connect({ storage: backend.storage, broker: backend.broker });
  try {
    return await withScene(backend, async (scene) => {
      const first = scene.spawnWorker({ SLOW_STEP: 'two' });
      await scene.waitFor(up(scene, first));
      const run = await client.start(processFlow);
      await scene.waitFor(started(scene, 'two', first));
      const second = scene.spawnWorker();
      await scene.waitFor(up(scene, second));
      const killedAt = Date.now();
      first.kill('SIGKILL');
      await exited(first);
      expect(await run.result({ timeout: '60s' })).toEqual(['one-ok', 'two-ok', 'three-ok']);
      const retry = scene.lines().find((l) => l.what.startsWith('start two') && l.pid === second.pid)!;
      const recoveredMs = retry.t - killedAt;
      expect(recoveredMs).toBeLessThan(20_000); // the broker alone would take its 30 s visibility timeout
      const events: DurablyEvent[] = await run.events();
      expect(events.filter((e) => e.type === 'run_interrupted')).toHaveLength(1);
      const completed = events.filter((e) => e.type === 'step_completed');
      expect(completed).toHaveLength(3);
      expect(new Set(completed.map((e) => e.correlationId)).size).toBe(3);
      expect(scene.lines().filter((l) => l.what === 'done one')).toHaveLength(1);
      return { recoveredMs };
    });
  } finally {
    await client.close();
  }
}

/**
 * A busy worker that stops on signals gets SIGTERM mid-step: it hands the step back, closes its
 * connections and exits within its grace period, and another worker finishes the run at once; then
 * that worker, idle, gets SIGTERM and exits at once too.
 */
export async function workerStoppedBySignalScenario(backend: ProcessBackend, graceMs = 3000): Promise<{ busyExitMs: number; idleExitMs: number; handedOverMs: number }> {
  const client = await connect({ storage: backend.storage, broker: backend.broker });
  try {
    return await withScene(backend, async (scene) => {
      const grace = { STOP_GRACE: `${graceMs}ms` };
      const busy = scene.spawnWorker({ ...grace, SLOW_STEP: 'two' });
      await scene.waitFor(up(scene, busy));
      const run = await client.start(processFlow);
      await scene.waitFor(started(scene, 'two', busy));
      const other = scene.spawnWorker(grace);
      await scene.waitFor(up(scene, other));

      const t0 = Date.now();
      busy.kill('SIGTERM');
      const busyExit = await exited(busy);
      const busyExitMs = Date.now() - t0;
      expect(busyExit).toEqual({ code: 0, signal: null });
      // Within the grace period, plus what starting and ending a process takes on a loaded machine.
      expect(busyExitMs).toBeLessThan(graceMs + 2000);
      expect(await run.result({ timeout: '30s' })).toEqual(['one-ok', 'two-ok', 'three-ok']);
      const retry = scene.lines().find((l) => l.what.startsWith('start two') && l.pid === other.pid)!;
      const handedOverMs = retry.t - t0;
      expect(handedOverMs).toBeLessThan(graceMs + 10_000); // handed back: no lease or visibility timeout to wait out

      const t1 = Date.now();
      other.kill('SIGTERM');
      const idleExit = await exited(other);
      const idleExitMs = Date.now() - t1;
      expect(idleExit).toEqual({ code: 0, signal: null });
      expect(idleExitMs).toBeLessThan(graceMs);
      expect(scene.lines().filter((l) => l.what === 'exit code=0').map((l) => l.pid).sort()).toEqual([busy.pid, other.pid].sort());
      return { busyExitMs, idleExitMs, handedOverMs };
    });
  } finally {
    await client.close();
  }
}
