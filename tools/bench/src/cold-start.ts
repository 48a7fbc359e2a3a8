import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { createClient } from '@durably/core';
import type { Row } from './shapes.js';
import type { UrlBackend } from './url-backends.js';

/**
 * B9, cold start: from the spawn of a fresh `node` process to the first step of its run recorded in
 * storage, for the onboarding sample (apps/onboarding, as `npm start` runs it: tsx on the sources),
 * and for an instrumented twin of it (cold-start-child.ts) that breaks the time down. The first
 * process of each namespace meets empty storage (connect() migrates: creates tables, streams,
 * queues); the next ones restart on storage that exists.
 */
const appDir = join(import.meta.dirname, '../../../apps/onboarding');
const childScript = join(import.meta.dirname, 'cold-start-child.ts');

interface Exited {
  spawnedAt: number;
  exitedAt: number;
  stdout: string;
}

/** Runs a node process on the backend's URLs, from the sample's directory, to its exit. */
function runNode(args: string[], backend: UrlBackend): Promise<Exited> {
  const env = { ...process.env, DURABLY_STORAGE: backend.storage, DURABLY_BROKER: backend.broker };
  const spawnedAt = performance.timeOrigin + performance.now();
  const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=@durably/source', ...args], { cwd: appDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  return new Promise((resolve, reject) => {
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      const exitedAt = performance.timeOrigin + performance.now();
      if (code === 0) resolve({ spawnedAt, exitedAt, stdout });
      else reject(new Error(`node ${args[0]} exited with ${code ?? signal}: ${(stderr || stdout).trim().slice(-1000)}`));
    });
  });
}

type Kind = 'first start' | 'restart';

/** The sample itself: its run is looked up by key afterwards, its events' times are the storage's. */
async function sample(backend: UrlBackend): Promise<Record<string, number>> {
  const key = `cold-${randomBytes(4).toString('hex')}`;
  const { spawnedAt, exitedAt } = await runNode(['src/main.ts', '--sleep', '1ms', '--key', key], backend);
  const client = createClient({ storage: backend.storage, broker: backend.broker });
  try {
    const run = await client.getRunByKey('onboarding', key);
    if (!run) throw new Error(`the onboarding sample exited, but storage has no run with the key ${key}`);
    const events = await run.events();
    const created = events.find((e) => e.type === 'run_created')!.at;
    const step = events.find((e) => e.type === 'step_completed')?.at;
    if (step === undefined) throw new Error(`the onboarding run ${run.runId} has no completed step`);
    return { spawn_to_first_step_ms: step - spawnedAt, spawn_to_run_created_ms: created - spawnedAt, run_created_to_first_step_ms: step - created, spawn_to_exit_ms: exitedAt - spawnedAt };
  } finally {
    await client.close();
  }
}

/** The instrumented twin: the same time, in parts. */
async function instrumented(backend: UrlBackend): Promise<Record<string, number>> {
  const { spawnedAt, exitedAt, stdout } = await runNode([childScript, `cold-${randomBytes(4).toString('hex')}`], backend);
  const line = stdout.split('\n').find((l) => l.startsWith('STAMPS '));
  if (!line) throw new Error(`the instrumented cold start printed no stamps: ${stdout.slice(-500)}`);
  const s = JSON.parse(line.slice(7)) as Record<string, number>;
  return {
    spawn_to_first_step_ms: s.firstStepAt - spawnedAt,
    // The spawn to node's own start (performance.timeOrigin), then node's bootstrap and its loader
    // (tsx, as `npm start` runs the sample) to the script's first line.
    process_start_ms: s.processStart - spawnedAt,
    node_and_tsx_ms: s.main - s.processStart,
    load_core_ms: s.coreLoaded - s.main,
    load_adapters_ms: s.adaptersLoaded - s.coreLoaded,
    load_sample_ms: s.sampleLoaded - s.adaptersLoaded,
    connect_migrate_ms: s.connected - s.sampleLoaded,
    worker_start_ms: s.workerStarted - s.connected,
    start_run_ms: s.runStarted - s.workerStarted,
    // The run's first step, from run_created (a time of the storage's events, like the sample's).
    first_step_ms: s.firstStepAt - s.runCreatedAt,
    stop_ms: s.stopped - s.firstStepAt,
    spawn_to_exit_ms: exitedAt - spawnedAt,
  };
}

/** Bare node (`node -e 0`, no loader) from spawn to exit: the floor under every figure above. */
export async function bareNode(starts: number): Promise<Row[]> {
  const rows: Row[] = [];
  for (let i = 0; i < Math.max(1, starts); i++) {
    const t0 = performance.now();
    await new Promise<void>((resolve, reject) => spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' }).once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`node -e 0 exited with ${code}`)))));
    rows.push({ shape: 'B9', system: 'durably', backend: 'none', mode: 'bare node -e 0', metric: 'spawn_to_exit_ms', value: performance.now() - t0, unit: 'ms' });
  }
  return rows;
}

/**
 * `starts` processes of each kind (sample, then instrumented) on a fresh namespace each: the first
 * on empty storage, the others restarts. One row per process and figure.
 */
export async function b9(backendName: string, open: () => UrlBackend, starts: number): Promise<Row[]> {
  const rows: Row[] = [];
  for (const [what, measure] of [
    ['onboarding sample', sample],
    ['instrumented', instrumented],
  ] as const) {
    const backend = open();
    try {
      for (let i = 0; i < Math.max(1, starts); i++) {
        const kind: Kind = i === 0 ? 'first start' : 'restart';
        for (const [metric, value] of Object.entries(await measure(backend))) {
          rows.push({ shape: 'B9', system: 'durably', backend: backendName, mode: `${what}, ${kind}`, metric, value, unit: 'ms' });
        }
      }
    } finally {
      await backend.cleanup();
    }
  }
  return rows;
}
