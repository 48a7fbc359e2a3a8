import { spawn, type ChildProcess } from 'node:child_process';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@durably/core';
import { percentile, threeStepRuns, type Row } from './shapes.js';
import { openUrlBackend } from './url-backends.js';
import { cpuSampler } from './proc-cpu.js';

/**
 * B8, scale-out: B1's load (3-step workflows, `concurrency` in flight) started by a client in the
 * bench's process and run by `workers` worker processes (worker-child.ts), all on the same storage
 * and broker URLs. The CPU of the client, of the workers and of the servers is read from /proc over
 * the measured part, to tell which of them is the bottleneck on a machine of few cores.
 */
export const WORKER_COUNTS = [1, 2, 4];

const benchDir = join(import.meta.dirname, '..');

/** Starts a worker process and resolves once it consumes (it prints READY). */
function startWorker(storage: string, broker: string, mode: 'inline' | 'dispatch'): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', ...process.execArgv.filter((a) => a.startsWith('--conditions')), 'src/worker-child.ts', storage, broker, mode], {
    cwd: benchDir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`a worker process did not start within 60 s: ${err.trim() || 'no output'}`));
    }, 60_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (/^READY$/m.test(out)) {
        clearTimeout(timer);
        child.stdout!.removeAllListeners('data');
        child.stdout!.resume();
        resolve(child);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`a worker process exited with ${code} before it was ready: ${err.trim() || 'no output'}`));
    });
  });
}

/** Stops worker processes (SIGTERM: they finish what they hold), SIGKILL after 15 s. */
async function stopWorkers(children: ChildProcess[]): Promise<void> {
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          const kill = setTimeout(() => child.kill('SIGKILL'), 15_000);
          child.once('exit', () => {
            clearTimeout(kill);
            resolve();
          });
          child.kill('SIGTERM');
        }),
    ),
  );
}

export async function b8(backendName: string, mode: 'inline' | 'dispatch', workers: number, count: number, concurrency: number): Promise<Row[]> {
  const backend = openUrlBackend(backendName);
  const client = createClient({ storage: backend.storage, broker: backend.broker });
  const children: ChildProcess[] = [];
  try {
    // The client migrates the storage once, before the workers connect.
    await client.ensureReady();
    children.push(...(await Promise.all(Array.from({ length: workers }, () => startWorker(backend.storage, backend.broker, mode)))));
    let sampler: ReturnType<typeof cpuSampler> | undefined;
    const groups: Record<string, number[] | string> = { client: [process.pid], ...Object.fromEntries(children.map((c, i) => [`worker${i + 1}`, [c.pid!]])), ...backend.servers };
    const { seconds, latencies } = await threeStepRuns(client, count, concurrency, () => {
      sampler = cpuSampler(groups);
    });
    const cpu = sampler!.stop();
    const row = (metric: string, value: number, unit: string): Row => ({ shape: 'B8', system: 'durably', backend: backendName, mode: `${mode}, ${workers} worker${workers > 1 ? 's' : ''}`, metric, value, unit });
    const perWorker = children.map((_, i) => cpu[`worker${i + 1}`]).filter((v) => v !== undefined);
    const pct = '% of a core';
    return [
      row('workflows_per_s', count / seconds, 'workflows/s'),
      row('steps_per_s', (count * 3) / seconds, 'steps/s'),
      row('latency_p50_ms', percentile(latencies, 50), 'ms'),
      row('latency_p99_ms', percentile(latencies, 99), 'ms'),
      ...(cpu.client !== undefined ? [row('cpu_client_pct', cpu.client, pct)] : []),
      ...(perWorker.length ? [row('cpu_workers_pct', perWorker.reduce((a, b) => a + b, 0), pct), row('cpu_busiest_worker_pct', Math.max(...perWorker), pct)] : []),
      // Time runnable but waiting for a core (all threads, % of the interval): a starved process shows it.
      ...(cpu.client_wait !== undefined ? [row('runqueue_wait_client_pct', cpu.client_wait, '% of the time')] : []),
      ...(perWorker.length ? [row('runqueue_wait_workers_pct', children.reduce((sum, _, i) => sum + (cpu[`worker${i + 1}_wait`] ?? 0), 0) / children.length, '% of the time')] : []),
      ...Object.keys(backend.servers)
        .filter((s) => cpu[s] !== undefined)
        .map((s) => row(`cpu_${s}_pct`, cpu[s], pct)),
      ...(cpu.machine !== undefined ? [row('cpu_machine_pct', cpu.machine, pct), row('cpu_other_pct', cpu.other, pct)] : []),
      row('load_avg_1m', loadavg()[0], 'load'),
    ];
  } finally {
    await stopWorkers(children);
    await client.close();
    await backend.cleanup();
  }
}
