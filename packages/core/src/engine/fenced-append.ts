import { AppendConflictError, type AppendRequest, type RunPatch, type RunRecord, type Storage } from '@durably/contracts';

/**
 * The fenced append: read what the run's log (or record) says now, decide on that what to append at
 * its end, and append conditionally at the seq the decision was read at. When another writer wins
 * the race (AppendConflictError), read again and decide again: a stale read costs a round, never a
 * second or misplaced event. Every writer of a run's log from outside its replay loop uses this:
 * signals, cancels and hook payloads from clients, a child's outcome in its parent, a parent's close
 * policy on its children, signals carried to a continuation, and dispatched steps' claims and outcomes.
 *
 * Policy: at most FENCED_APPEND_ROUNDS rounds. The first few follow each other at once (a lost race
 * usually means one other append); later ones wait a little, growing to 50 ms and jittered, so
 * writers racing on a hot run spread out. When every round lost, the last AppendConflictError is
 * thrown: the caller's task fails and is delivered again, or its caller sees it.
 */
export const FENCED_APPEND_ROUNDS = 50;

/** What a round decided: append this (and return `value` once it is durable), or nothing to do. */
export type FencedStep<T> = { append: AppendRequest; value: T } | { done: T };

/**
 * Runs `round` (read and decide) and its append until an append lands or a round says `done`.
 * `round` gets the round number (0 first) and must read afresh each time.
 */
export async function fencedAppend<T>(storage: Storage, round: (n: number) => Promise<FencedStep<T>>, options: { rounds?: number } = {}): Promise<T> {
  const rounds = options.rounds ?? FENCED_APPEND_ROUNDS;
  for (let n = 0; ; n++) {
    const step = await round(n);
    if ('done' in step) return step.done;
    try {
      await storage.append(step.append);
      return step.value;
    } catch (err) {
      if (!(err instanceof AppendConflictError) || n + 1 >= rounds) throw err;
      if (n >= 3) await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(50, 2 ** (n - 2))));
    }
  }
}

/**
 * The record patch of an append from outside that gives a run something to do (a signal, an update, a
 * cancel, a hook payload, a child's outcome): a suspended run is marked running in the same append, so
 * that if its wake-up is lost (published to a broker that then loses it, or not published because the
 * broker was down) the stale-run sweep, which looks at pending and running runs, still resumes it. A
 * run that finds nothing new to do records `suspended` again. `patch` (when given) is kept as it is.
 */
export function wakePatch(run: Pick<RunRecord, 'status'>, patch?: RunPatch): RunPatch | undefined {
  if (patch?.status !== undefined || run.status !== 'suspended') return patch;
  return { ...patch, status: 'running' };
}
