/**
 * Faults beyond crashes, on the Postgres pair (private server):
 *
 * - `freeze`: worker A is SIGSTOPped while it holds step attempts in flight; worker B takes the runs
 *   over once A's leases lapse and completes them; A is resumed (SIGCONT) and must record nothing:
 *   every write it had in hand is fenced by the log.
 * - `partition`: worker A runs in another network namespace and reaches the server over a veth pair;
 *   the link is cut for `faultMs` (packets dropped in silence), B takes over, then the link comes
 *   back and A's late writes must all be refused.
 * - `storage-down`: the server is down when the workers start; they wait and log, and once it is up
 *   (after `faultMs`) they work.
 *
 * Each ends with A (and B) serving new runs, which proves the fenced worker is healthy, and audits
 * the logs: every run completed with its result, no outcome recorded twice, no log changed after the
 * takeover had finished it.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, deserialize, type Client, type DurablyEvent } from '@durably/core';
import { withRetry } from './audit.js';
import { EffectsReader } from './effects.js';
import { ISOLATED_WORKFLOW, isolatedFlow, isolatedResult } from './flow.js';
import { PartitionLink } from './netns.js';
import { logOf as readLog, spawnWorker, waitLogged } from './processes.js';
import { PrivatePostgres } from './servers.js';

export const ISOLATION_FAULTS = ['freeze', 'partition', 'storage-down'] as const;
export type IsolationFault = (typeof ISOLATION_FAULTS)[number];

export interface IsolationOptions {
  fault: IsolationFault;
  /** Runs in flight on worker A when the fault comes. Default 20. */
  runs?: number;
  /** How long the fault lasts, ms. Default 20 s (a partition or a freeze), 60 s (storage down). */
  faultMs?: number;
  log?: (line: string) => void;
}

export interface IsolationReport {
  fault: IsolationFault;
  runs: number;
  completed: number;
  /** Outcomes recorded more than once for one call (step, run end), and logs with a gap. */
  recordedTwice: number;
  gaps: number;
  /** Events appended to runs after they had completed and the fault ended (A's late writes that got through). */
  writtenAfterEnd: number;
  /** From the fault to the first attempt worker B recorded (freeze, partition). */
  takeoverMs?: number;
  /** Step attempts A held when it was cut off (claimed, no outcome recorded yet): under load, A may have finished some runs' steps before the fault. */
  heldAtFault?: number;
  /** Of those, the steps B claimed again and completed (A's outcomes for them were refused). */
  takenOver?: number;
  /** Step bodies A ran in all (its attempts cut off still ran to their end). */
  isolatedBodies?: number;
  /** Warnings "waiting for the storage" the workers logged while it was down (storage-down). */
  waitLogs?: number;
  /** From the server's start to the first run completed (storage-down). */
  workAfterUpMs?: number;
  /** The new runs started after the fault, completed by A alone. */
  afterwards: { started: number; completed: number };
  faultMs: number;
  totalMs: number;
  broken: string[];
  logs?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runIsolation(options: IsolationOptions): Promise<IsolationReport> {
  const o: Required<IsolationOptions> = {
    fault: options.fault,
    runs: options.runs ?? 20,
    faultMs: options.faultMs ?? (options.fault === 'storage-down' ? 60_000 : 20_000),
    log: options.log ?? (() => undefined),
  };
  const dir = mkdtempSync(join(tmpdir(), `durably-${o.fault}-`));
  const effects = new EffectsReader(join(dir, 'effects.log'));
  const link = o.fault === 'partition' ? new PartitionLink() : undefined;
  if (link) await link.open();
  const server = new PrivatePostgres(link ? { listen: [link.near], trust: [link.network] } : {});
  const workers: ChildProcess[] = [];
  let client: Client | undefined;
  let kept = false;
  const t0 = Date.now();

  const logFileOf = (id: string) => join(dir, `${id}.log`);
  const startWorker = (id: string, env: Record<string, string> = {}, isolated = false) => {
    const url = isolated && link ? server.urlAt(link.near) : server.url;
    const child = spawnWorker({
      logFile: logFileOf(id),
      wrap: isolated && link ? (argv) => link.command(argv) : undefined,
      env: {
        DURABLY_STORAGE: url,
        DURABLY_BROKER: url,
        DURABLY_LOG_LEVEL: 'info',
        CHAOS_LOG_LEVEL: 'info',
        CHAOS_EFFECTS: effects.file,
        CHAOS_WORKER_ID: id,
        CHAOS_CONCURRENCY: String(Math.max(50, o.runs)),
        CHAOS_VISIBILITY_TIMEOUT: '5s',
        CHAOS_STALE_AFTER: '10s',
        CHAOS_RECOVERY_INTERVAL: '2s',
        ...env,
      },
    });
    workers.push(child);
    return child;
  };
  const logOf = (id: string) => readLog(logFileOf(id));
  const waitUp = (id: string, child: ChildProcess, ms: number) => waitLogged(child, logFileOf(id), ms, `worker ${id}`);
  const logs = async (runIds: string[]) => new Map(await Promise.all(runIds.map(async (id) => [id, await withRetry(() => client!.storage.readEvents(id))] as const)));
  const completedCount = async (runIds: string[]) => (await Promise.all(runIds.map((id) => client!.storage.getRun(id)))).filter((r) => r?.status === 'completed').length;
  const waitCompleted = async (runIds: string[], ms: number) => {
    const by = Date.now() + ms;
    let done = 0;
    while (Date.now() < by) {
      done = await completedCount(runIds).catch(() => done);
      if (done === runIds.length) return done;
      await sleep(200);
    }
    return done;
  };

  try {
    const report: IsolationReport = { fault: o.fault, runs: o.runs, completed: 0, recordedTwice: 0, gaps: 0, writtenAfterEnd: 0, afterwards: { started: 0, completed: 0 }, faultMs: o.faultMs, totalMs: 0, broken: [] };
    let runIds: string[] = [];
    let a: ChildProcess;
    let ended: Map<string, DurablyEvent[]>;

    if (o.fault === 'storage-down') {
      // The workers start while the server has never been up; the client's connectTimeout is longer than the outage.
      const wait = { CHAOS_CONNECT_TIMEOUT: `${Math.ceil((o.faultMs + 60_000) / 1000)}s` };
      await server.init();
      a = startWorker('A', wait);
      const b = startWorker('B', wait);
      await sleep(o.faultMs);
      if (a.exitCode !== null || b.exitCode !== null) throw new Error(`a worker exited while the storage was down; logs:\n${logOf('A').slice(-1500)}\n${logOf('B').slice(-1500)}`);
      report.waitLogs = (logOf('A') + logOf('B')).split('\n').filter((l) => l.includes('waiting for the storage')).length;
      const upAt = Date.now();
      await server.start();
      o.log(`storage up after ${o.faultMs} ms down; ${report.waitLogs} wait warnings logged`);
      await Promise.all([waitUp('A', a, 120_000), waitUp('B', b, 120_000)]);
      client = await connect({ storage: server.url, broker: server.url });
      await client.ensureReady();
      runIds = (await Promise.all(Array.from({ length: o.runs }, (_, n) => client!.start(isolatedFlow, n)))).map((h) => h.runId);
      const first = await (async () => {
        while (Date.now() - upAt < 120_000) {
          if ((await completedCount(runIds)) > 0) return Date.now();
          await sleep(100);
        }
        return undefined;
      })();
      report.workAfterUpMs = first === undefined ? undefined : first - upAt;
      report.completed = await waitCompleted(runIds, 120_000);
      ended = await logs(runIds);
      b.kill('SIGTERM');
    } else {
      await server.start();
      client = await connect({ storage: server.url, broker: server.url });
      await client.ensureReady();
      a = startWorker('A', {}, true);
      await waitUp('A', a, 120_000);
      runIds = (await Promise.all(Array.from({ length: o.runs }, (_, n) => client!.start(isolatedFlow, n)))).map((h) => h.runId);
      // The fault comes once A holds an attempt of every run.
      const by = Date.now() + 60_000;
      while (new Set(effects.executions.map((x) => x.runId)).size < o.runs) {
        effects.poll();
        if (Date.now() > by) throw new Error('worker A did not start the runs');
        await sleep(50);
      }
      const faultAt = Date.now();
      if (o.fault === 'freeze') process.kill(a.pid!, 'SIGSTOP');
      else link!.cut();
      o.log(`${o.fault}: worker A cut off with ${o.runs} attempts in flight; worker B starts`);
      const b = startWorker('B');
      await waitUp('B', b, 120_000);
      // The fault lasts faultMs, and at least until B has finished every run.
      report.completed = await waitCompleted(runIds, Math.max(o.faultMs - (Date.now() - faultAt), 0) + 120_000);
      const rest = o.faultMs - (Date.now() - faultAt);
      if (rest > 0) await sleep(rest);
      ended = await logs(runIds);
      const takeover = [...ended.values()].flat().find((e) => e.type === 'step_started' && e.data.workerId === 'B');
      report.takeoverMs = takeover ? takeover.at - faultAt : undefined;
      if (o.fault === 'freeze') process.kill(a.pid!, 'SIGCONT');
      else link!.restore();
      o.log(`${o.fault} over after ${Date.now() - faultAt} ms: ${report.completed}/${o.runs} completed by B; A is back`);
      // A's timers, lease renewals and outcomes fire now: give them time to reach the log.
      await sleep(8000);
      b.kill('SIGTERM');
      await new Promise((r) => b.once('exit', r));
      // The steps A held when it was cut off (claimed by A, no outcome written before the fault): each
      // must have been claimed again by B, which recorded its outcome.
      const held = heldAndTakenOver([...ended.values()], faultAt);
      report.heldAtFault = held.held;
      report.takenOver = held.takenOver;
      effects.poll();
      report.isolatedBodies = effects.executions.filter((x) => x.pid === a.pid).length;
    }

    // Nothing reached a finished run's log after the fault ended.
    const final = await logs(runIds);
    for (const [id, events] of final) {
      const before = ended.get(id)!;
      const run = await client.storage.getRun(id);
      if (run?.status === 'completed' && before.some((e) => e.type === 'run_completed')) report.writtenAfterEnd += events.length - before.length;
      if (events.some((e, i) => e.seq !== i + 1)) report.gaps++;
      const seen = new Map<string, number>();
      for (const e of events) {
        if (e.type !== 'step_completed' && e.type !== 'run_completed') continue;
        const key = `${e.type} ${e.correlationId ?? ''}`;
        seen.set(key, (seen.get(key) ?? 0) + 1);
      }
      for (const count of seen.values()) report.recordedTwice += count - 1;
    }
    const results = await Promise.all(runIds.map((id) => client!.storage.getRun(id)));
    report.completed = results.filter((r, n) => r?.status === 'completed' && r.result !== undefined && deserialize(r.result) === isolatedResult(n)).length;

    // A, alone now, serves new runs: the fenced worker is healthy.
    const later = (await Promise.all(Array.from({ length: 5 }, (_, n) => client!.start(isolatedFlow, 100 + n)))).map((h) => h.runId);
    report.afterwards = { started: later.length, completed: await waitCompleted(later, 90_000) };
    report.totalMs = Date.now() - t0;

    if (report.completed !== o.runs) report.broken.push(`${o.runs - report.completed} of ${o.runs} runs did not complete with their result`);
    if (report.recordedTwice > 0) report.broken.push(`${report.recordedTwice} outcomes were recorded twice`);
    if (report.gaps > 0) report.broken.push(`${report.gaps} logs have a gap`);
    if (report.writtenAfterEnd > 0) report.broken.push(`${report.writtenAfterEnd} events reached finished runs after the fault ended`);
    if (report.afterwards.completed !== report.afterwards.started) report.broken.push(`worker A completed ${report.afterwards.completed} of ${report.afterwards.started} new runs after the fault`);
    if (report.heldAtFault === 0) report.broken.push('worker A held no step attempt when it was cut off: the fault tested nothing');
    if (report.takenOver !== undefined && report.takenOver < report.heldAtFault!) report.broken.push(`only ${report.takenOver} of the ${report.heldAtFault} steps A held were taken over by B`);
    if (o.fault === 'storage-down' && !report.waitLogs) report.broken.push('the workers logged no wait while the storage was down');
    kept = report.broken.length > 0;
    if (kept) report.logs = dir;
    return report;
  } catch (err) {
    kept = true;
    throw new Error(`${(err as Error).message} (worker logs kept in ${dir})`, { cause: err });
  } finally {
    for (const w of workers) {
      if (w.exitCode === null) {
        try {
          process.kill(w.pid!, 'SIGCONT');
        } catch {
          // gone
        }
        w.kill('SIGKILL');
      }
    }
    await client?.close().catch(() => undefined);
    await server.destroy();
    link?.close();
    if (!kept) rmSync(dir, { recursive: true, force: true });
  }
}

/** The report as lines for a terminal. */
export function formatIsolation(r: IsolationReport): string {
  const lines = [
    `fault ${r.fault} (${(r.faultMs / 1000).toFixed(0)} s) on postgres, ${r.runs} runs:`,
    `  runs completed / started       ${r.completed}/${r.runs}`,
    `  outcomes recorded twice        ${r.recordedTwice}`,
    `  logs with a gap                ${r.gaps}`,
    `  events after the fault ended   ${r.writtenAfterEnd}`,
  ];
  if (r.takeoverMs !== undefined) lines.push(`  takeover by worker B           ${r.takeoverMs} ms after the fault`);
  if (r.takenOver !== undefined) lines.push(`  A's steps taken over by B      ${r.takenOver} of the ${r.heldAtFault} A held (A ran ${r.isolatedBodies} step bodies)`);
  if (r.waitLogs !== undefined) lines.push(`  wait warnings while down       ${r.waitLogs}`);
  if (r.workAfterUpMs !== undefined) lines.push(`  first run completed            ${r.workAfterUpMs} ms after the server came up`);
  lines.push(`  new runs afterwards            ${r.afterwards.completed}/${r.afterwards.started}`, `  total                          ${(r.totalMs / 1000).toFixed(1)} s`);
  lines.push(r.broken.length ? `BROKEN:\n${r.broken.map((b) => `  - ${b}`).join('\n')}${r.logs ? `\n  worker logs: ${r.logs}` : ''}` : 'every promise held');
  return lines.join('\n');
}

export { ISOLATED_WORKFLOW };

/**
 * Of the step attempts worker A held at `faultAt` (its `step_started` written by then and no outcome of
 * that step written by then), how many B claimed again and completed.
 */
export function heldAndTakenOver(logs: DurablyEvent[][], faultAt: number): { held: number; takenOver: number } {
  let held = 0;
  let takenOver = 0;
  for (const events of logs) {
    const calls = new Map<string, { heldByA: boolean; byB: boolean; completedByB: boolean }>();
    for (const e of events) {
      const id = e.correlationId ?? '';
      const call = calls.get(id) ?? { heldByA: false, byB: false, completedByB: false };
      calls.set(id, call);
      if (e.type === 'step_started' && e.data.workerId === 'A' && e.at <= faultAt) call.heldByA = true;
      else if (e.type === 'step_started' && e.data.workerId === 'B') call.byB = true;
      else if ((e.type === 'step_completed' || e.type === 'step_failed') && e.at <= faultAt && !call.byB) call.heldByA = false;
      else if (e.type === 'step_completed' && call.byB) call.completedByB = true;
    }
    for (const call of calls.values()) {
      if (!call.heldByA) continue;
      held++;
      if (call.byB && call.completedByB) takenOver++;
    }
  }
  return { held, takenOver };
}
