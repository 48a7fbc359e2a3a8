/**
 * A chaos run: `runs` chaos workflows on `workers` worker processes while the tool SIGKILLs a random
 * worker every 1-3 s (and starts another in its place) and crashes and restarts each private server
 * of the pair once; then it waits for the runs to drain and audits storage against the effects file.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type Client } from '@durably/core';
import { audit, brokenPromises, snapshot, withRetry, type Audit, type Snapshot } from './audit.js';
import { EffectsReader } from './effects.js';
import { WORKFLOW, chaosFlow } from './flow.js';
import { openPair, type PairName } from './pairs.js';
import { spawnWorker, waitLogged } from './processes.js';

export interface ChaosOptions {
  pair: PairName;
  runs: number;
  workers?: number;
  /** Most worker kills (default: no limit, one every 1-3 s until the runs have drained or `chaosForMs` is over). */
  kills?: number;
  /** The longest time faults go on, ms; then the runs left must drain. Default 120 s. */
  chaosForMs?: number;
  /** Pause between kills, ms: a random value in [min, max]. Default [1000, 3000]. */
  killEveryMs?: [number, number];
  /** Crash and restart each server of the pair once (default true). */
  restarts?: boolean;
  /** How long a server stays down, ms. Default 2000. */
  downMs?: number;
  /** The workflow's sleep, ms. Default 1000. */
  sleepMs?: number;
  /** Past the last fault, the runs left are stuck when none has completed for this long. Default 60 s (300 s on dynamodb+sqs, whose emulator is slow). */
  stuckAfterMs?: number;
  /** Worker concurrency (runs at once per process). Default 50. */
  concurrency?: number;
  /** Progress lines; default none. */
  log?: (line: string) => void;
}

export interface Fault {
  at: number;
  what: string;
}

export interface ChaosReport {
  pair: PairName;
  audit: Audit;
  stuck: number;
  /** The window of that count: none completed for this long after the last fault. */
  stuckAfterMs: number;
  kills: number;
  restarts: string[];
  faults: Fault[];
  /** From the start of the first run to the last run's end, and from the last fault to it. */
  totalMs: number;
  drainMs: number;
  broken: string[];
  /** Where worker logs were kept (only when a promise was broken). */
  logs?: string;
}

/** The options that were given (an `undefined` field keeps its default). */
const defined = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const o = { workers: 3, kills: Infinity, killEveryMs: [1000, 3000] as [number, number], restarts: true, downMs: 2000, sleepMs: 1000, chaosForMs: 120_000, concurrency: 50, log: () => undefined, ...defined(options) };
  const dir = mkdtempSync(join(tmpdir(), 'durably-chaos-'));
  const effects = new EffectsReader(join(dir, 'effects.log'));
  const pair = await openPair(o.pair);
  const stuckAfterMs = options.stuckAfterMs ?? pair.stuckAfterMs;
  const workers = new Set<ChildProcess>();
  const killedPids = new Set<number>();
  const faults: Fault[] = [];
  const snapshots: Snapshot[] = [];
  const restarts: string[] = [];
  let client: Client | undefined;
  let kept = false;

  const logs = new Map<ChildProcess, string>();
  const startWorker = () => {
    // Each worker's log is worker-<n>.log; its first line names its PID ("worker up <pid>").
    const logFile = join(dir, `worker-${logs.size + 1}.log`);
    const child = spawnWorker({ logFile, env: { DURABLY_STORAGE: pair.storageUrl, DURABLY_BROKER: pair.brokerUrl, CHAOS_EFFECTS: effects.file, CHAOS_CONCURRENCY: String(o.concurrency), ...pair.env } });
    logs.set(child, logFile);
    workers.add(child);
    child.once('exit', () => workers.delete(child));
    return child;
  };

  // Ctrl-C or a SIGTERM to the tool: no worker or private server outlives it.
  const interrupted = (signal: NodeJS.Signals) => {
    for (const c of workers) c.kill('SIGKILL');
    console.error(`chaos ${o.pair}: ${signal}; workers killed, private servers stopped (worker logs in ${dir})`);
    void pair.dispose().finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    client = await connect({ storage: pair.storageUrl, broker: pair.brokerUrl });
    await client.ensureReady();
    const first = Array.from({ length: o.workers }, startWorker);
    await Promise.all(first.map((c, i) => waitLogged(c, logs.get(c)!, 120_000, `worker process ${i + 1}`)));

    // Start the runs, 50 at a time.
    const runs = new Map<string, number>();
    const t0 = Date.now();
    for (let i = 0; i < o.runs; i += 50) {
      const batch = Array.from({ length: Math.min(50, o.runs - i) }, (_, k) => i + k);
      const handles = await Promise.all(batch.map((n) => withRetry(() => client!.start(chaosFlow, n, o.sleepMs))));
      handles.forEach((h, k) => runs.set(h.runId, batch[k]));
    }
    o.log(`${o.pair}: ${runs.size} runs started in ${Date.now() - t0} ms on ${o.workers} workers`);

    let completed = 0;
    let allDone = false;
    let lastCompletionAt = t0;
    const resumed = new Set<string>();
    const pendingHooks = new Map<string, string>();
    const resumeHooks = async () => {
      for (const h of effects.poll()) if (!resumed.has(h.runId)) pendingHooks.set(h.runId, h.token);
      await Promise.all([...pendingHooks].map(async ([runId, token]) => {
        try {
          await client!.resumeHook(token, { value: runs.get(runId)! });
          resumed.add(runId);
          pendingHooks.delete(runId);
        } catch (err) {
          // Resumed by an earlier round whose answer was lost to a server restart; any other error
          // (a server is down, the hook is not in storage yet) is tried again next round.
          if ((err as { code?: string }).code === 'HOOK_ALREADY_USED') {
            resumed.add(runId);
            pendingHooks.delete(runId);
          }
        }
      }));
    };
    const countCompleted = async () => {
      let count = 0;
      let cursor: string | undefined;
      do {
        const page = await client!.listRuns({ workflow: WORKFLOW, status: 'completed', limit: 1000, cursor });
        count += page.runs.length;
        cursor = page.nextCursor;
      } while (cursor);
      return count;
    };

    // The faults: worker kills, and one crash and restart per server.
    let killerDone = false;
    let restarterDone = false;
    const killer = (async () => {
      let kills = 0;
      while (!allDone && kills < o.kills) {
        await sleep(o.killEveryMs[0] + Math.random() * (o.killEveryMs[1] - o.killEveryMs[0]));
        const live = [...workers].filter((c) => c.exitCode === null);
        if (allDone || live.length === 0) break;
        const victim = live[Math.floor(Math.random() * live.length)];
        killedPids.add(victim.pid!);
        victim.kill('SIGKILL');
        kills++;
        faults.push({ at: Date.now(), what: `SIGKILL worker ${victim.pid}` });
        startWorker();
      }
    })().finally(() => (killerDone = true));
    const restarter = (async () => {
      if (!o.restarts) return;
      for (const [i, server] of pair.servers.entries()) {
        // The storage's server at a quarter of the runs completed, the broker's at half (or 30 s on).
        const threshold = runs.size * (i === 0 ? 0.25 : 0.5);
        const by = Date.now() + 30_000;
        while (!allDone && completed < threshold && Date.now() < by) await sleep(200);
        if (allDone) return;
        snapshots.push(await snapshot(client!.storage, [...runs.keys()]));
        await server.crash();
        faults.push({ at: Date.now(), what: `crash ${server.kind}` });
        await sleep(o.downMs);
        await server.start();
        faults.push({ at: Date.now(), what: `restart ${server.kind}` });
        restarts.push(server.kind);
        o.log(`${o.pair}: ${server.kind} crashed and restarted (${completed}/${runs.size} completed)`);
      }
    })().finally(() => (restarterDone = true));

    // Drain: resume hooks as they are announced, count completions, stop when all are done or stuck.
    let stuck = 0;
    let lastCount = 0;
    while (!allDone) {
      await resumeHooks();
      try {
        completed = await countCompleted();
        if (completed > lastCount) lastCompletionAt = Date.now();
        if (Math.floor(completed / Math.max(1, runs.size / 10)) > Math.floor(lastCount / Math.max(1, runs.size / 10))) o.log(`${o.pair}: ${completed}/${runs.size} completed`);
        lastCount = completed;
      } catch {
        // a server is down
      }
      if (completed >= runs.size) allDone = true;
      const faultsOver = killerDone && restarterDone;
      const lastFault = faults.at(-1)?.at ?? t0;
      // Stuck: past the last fault, no run has completed for stuckAfterMs (on a loaded machine the
      // queue may take minutes to drain; it must keep draining).
      if (!allDone && faultsOver && Date.now() - Math.max(lastFault, lastCompletionAt) > stuckAfterMs) {
        stuck = runs.size - completed;
        allDone = true;
      }
      // With no limit on kills they go on while runs remain: past chaosForMs, stop killing and see what drains.
      if (!allDone && Date.now() - t0 > o.chaosForMs) o.kills = 0;
      await sleep(pair.pollMs);
    }
    allDone = true;
    await Promise.all([killer, restarter]);
    const endAt = lastCompletionAt;
    const lastFault = faults.at(-1)?.at ?? t0;

    // Stop the workers, read the rest of the effects file, audit.
    await Promise.all([...workers].map((c) => new Promise<void>((resolve) => {
      if (c.exitCode !== null) return resolve();
      const timer = setTimeout(() => c.kill('SIGKILL'), 10_000);
      c.once('exit', () => (clearTimeout(timer), resolve()));
      c.kill('SIGTERM');
    })));
    effects.poll();
    const result = await audit(client.storage, runs, effects.executions, killedPids, snapshots);
    const broken = brokenPromises(result, stuck, stuckAfterMs);
    kept = broken.length > 0;
    return {
      pair: o.pair,
      audit: result,
      stuck,
      stuckAfterMs,
      kills: killedPids.size,
      restarts,
      faults,
      totalMs: endAt - t0,
      drainMs: Math.max(0, endAt - lastFault),
      broken,
      logs: kept ? dir : undefined,
    };
  } catch (err) {
    kept = true;
    throw new Error(`${(err as Error).message} (worker logs kept in ${dir})`, { cause: err });
  } finally {
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
    for (const c of workers) if (c.exitCode === null) c.kill('SIGKILL');
    await client?.close().catch(() => undefined);
    await pair.dispose();
    if (!kept) rmSync(dir, { recursive: true, force: true });
  }
}
