/**
 * What a chaos run must leave behind, read from storage and compared with the effects file: every run
 * completed with its expected result, nothing recorded before a fault lost after it, nothing recorded
 * twice, and no step body run more often than its attempts were recorded unless a worker was killed.
 */
import { deserialize, type DurablyEvent, type Storage } from '@durably/core';
import type { Execution } from './effects.js';
import { expectedResult } from './flow.js';

/** What had been recorded at one moment: per run, its step outcomes by correlation id, and its result if it had finished. */
export type Snapshot = Map<string, { steps: Map<string, string>; result?: string }>;

export interface Audit {
  started: number;
  completed: number;
  /** Runs not completed with the expected result, by status (`completed` here: a wrong result). */
  notCompleted: Record<string, number>;
  /** Step outcomes and run results seen in a snapshot that are missing or different at the end. */
  lost: number;
  /** Step outcomes, hook payloads and sleep ends recorded more than once for one call; logs with a gap in seq. */
  recordedTwice: number;
  gaps: number;
  /** Body executions beyond the attempts the log recorded (step_started), and of those how many no kill explains. */
  extraExecutions: number;
  unexplainedExtra: number;
  /** Recorded outcomes for which no body execution was seen. */
  outcomesWithoutExecution: number;
  /** Body executions in all, and attempts recorded. */
  executions: number;
  attempts: number;
  examples: string[];
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  }));
  return out;
}

/** Reads every run's log (retrying while a server is down) and returns what it records. */
export async function snapshot(storage: Storage, runIds: string[]): Promise<Snapshot> {
  const snap: Snapshot = new Map();
  await mapLimit(runIds, 20, async (runId) => {
    const events = await withRetry(() => storage.readEvents(runId));
    snap.set(runId, summarize(events));
  });
  return snap;
}

function summarize(events: DurablyEvent[]): { steps: Map<string, string>; result?: string } {
  const steps = new Map<string, string>();
  let result: string | undefined;
  for (const e of events) {
    if (e.type === 'step_completed') steps.set(e.correlationId ?? '', String(e.data.result));
    if (e.type === 'run_completed') result = String((e.data as { result?: unknown }).result);
  }
  return { steps, result };
}

export async function withRetry<T>(fn: () => Promise<T>, attempts = 120): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (i >= attempts) throw err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

export async function audit(storage: Storage, runs: Map<string, number>, executions: Execution[], killedPids: Set<number>, snapshots: Snapshot[]): Promise<Audit> {
  const a: Audit = { started: runs.size, completed: 0, notCompleted: {}, lost: 0, recordedTwice: 0, gaps: 0, extraExecutions: 0, unexplainedExtra: 0, outcomesWithoutExecution: 0, executions: executions.length, attempts: 0, examples: [] };
  const example = (line: string) => void (a.examples.length < 10 && a.examples.push(line));
  const byRunStep = new Map<string, Execution[]>();
  for (const x of executions) {
    const key = `${x.runId} ${x.step}`;
    const list = byRunStep.get(key) ?? [];
    list.push(x);
    byRunStep.set(key, list);
  }
  const ids = [...runs.keys()];
  const finals = await mapLimit(ids, 20, async (runId) => ({ runId, run: await withRetry(() => storage.getRun(runId)), events: await withRetry(() => storage.readEvents(runId)) }));
  for (const { runId, run, events } of finals) {
    const n = runs.get(runId)!;
    const ok = run?.status === 'completed' && run.result !== undefined && deserialize(run.result) === expectedResult(n);
    if (ok) a.completed++;
    else {
      const key = run?.status ?? 'missing';
      a.notCompleted[key] = (a.notCompleted[key] ?? 0) + 1;
      example(`run ${runId} (n=${n}): ${key}${run?.error ? ` ${run.error.message}` : ''}; last events: ${events.slice(-3).map((e) => e.type).join(', ')}`);
    }
    if (events.some((e, i) => e.seq !== i + 1)) {
      a.gaps++;
      example(`run ${runId}: its log has a gap in seq`);
    }
    const seen = new Map<string, number>();
    // A multi-use hook takes a payload per resume: its hook_received events are not duplicates.
    const multiUse = new Set(events.filter((e) => e.type === 'hook_created' && e.data.multiUse).map((e) => e.correlationId));
    for (const e of events) {
      if (e.type !== 'step_completed' && e.type !== 'hook_received' && e.type !== 'sleep_completed') continue;
      if (e.type === 'hook_received' && multiUse.has(e.correlationId)) continue;
      const key = `${e.type} ${e.correlationId}`;
      seen.set(key, (seen.get(key) ?? 0) + 1);
    }
    for (const [key, count] of seen) {
      if (count > 1) {
        a.recordedTwice += count - 1;
        example(`run ${runId}: ${key} recorded ${count} times`);
      }
    }
    const final = summarize(events);
    for (const snap of snapshots) {
      const before = snap.get(runId);
      if (!before) continue;
      for (const [corr, result] of before.steps) {
        if (final.steps.get(corr) !== result) {
          a.lost++;
          example(`run ${runId}: step ${corr} recorded before a fault is ${final.steps.has(corr) ? 'different' : 'missing'} now`);
        }
      }
      if (before.result !== undefined && before.result !== final.result) {
        a.lost++;
        example(`run ${runId}: its result recorded before a fault is lost`);
      }
    }
    // Attempts recorded per step against the bodies that ran.
    const starts = new Map<string, number>();
    for (const e of events) if (e.type === 'step_started') starts.set(e.data.name, (starts.get(e.data.name) ?? 0) + 1);
    for (const [name, count] of starts) {
      a.attempts += count;
      const ran = byRunStep.get(`${runId} ${name}`) ?? [];
      if (ran.length > count) {
        a.extraExecutions += ran.length - count;
        if (!ran.some((x) => killedPids.has(x.pid))) {
          a.unexplainedExtra += ran.length - count;
          example(`run ${runId}: ${name} ran ${ran.length} times for ${count} recorded attempts, and none of its workers was killed`);
        }
      }
    }
    for (const e of events) {
      if (e.type !== 'step_completed' && e.type !== 'step_failed') continue;
      const ran = byRunStep.get(`${runId} ${e.data.name}`) ?? [];
      if (!ran.some((x) => x.attempt === e.data.attempt)) {
        a.outcomesWithoutExecution++;
        const history = events.filter((x) => x.correlationId === e.correlationId || x.type === 'run_interrupted').map((x) => `${x.seq}:${x.type}${'attempt' in x.data ? `#${x.data.attempt}` : ''}${'workerId' in x.data ? `@${x.data.workerId}` : ''}`);
        example(`run ${runId}: ${e.data.name} attempt ${e.data.attempt} is recorded but its body was never seen running (log: ${history.join(' ')}; bodies seen: ${ran.map((x) => `#${x.attempt}@${x.pid}`).join(' ') || 'none'})`);
      }
    }
  }
  return a;
}

/** The promises a chaos run checks; each broken one is a line of the verdict. */
export function brokenPromises(a: Audit, stuck: number, stuckAfterMs = 60_000): string[] {
  const broken: string[] = [];
  if (a.completed !== a.started) broken.push(`${a.started - a.completed} of ${a.started} runs did not complete with their expected result (${JSON.stringify(a.notCompleted)})`);
  if (a.lost > 0) broken.push(`${a.lost} recorded results were lost`);
  if (a.recordedTwice > 0) broken.push(`${a.recordedTwice} outcomes were recorded twice`);
  if (a.gaps > 0) broken.push(`${a.gaps} logs have a gap`);
  if (a.unexplainedExtra > 0) broken.push(`${a.unexplainedExtra} step bodies ran beyond their recorded attempts with no worker killed`);
  if (a.outcomesWithoutExecution > 0) broken.push(`${a.outcomesWithoutExecution} recorded outcomes have no body execution`);
  if (stuck > 0) broken.push(`${stuck} runs were stuck: none completed for ${Math.round(stuckAfterMs / 1000)} s after the last fault`);
  return broken;
}
