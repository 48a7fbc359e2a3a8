import type { DurablyEvent } from '@durably/contracts';
import type { Execution } from '../../engine/execution.js';

/**
 * Suspended executions kept so that what resumes them feeds a live function instead of replaying the
 * whole log: those waiting on steps dispatched to the broker (the step's completion feeds one event)
 * and those whose next due time falls within the local timer window, whose wake-up a worker's local
 * timers hold (the wake-up then needs no read at all: see `resumesUnread`). Bounded (LRU) and only
 * for short waits: runs that sleep longer or wait on people are dropped, so they cost no memory; an
 * execution that is not here is replayed from storage as always.
 */
export class ExecutionCache {
  private readonly entries = new Map<string, Execution>();
  /** Log tails this worker just wrote or read for a run (a dispatched step's claim), by run. */
  private readonly tails = new Map<string, DurablyEvent[]>();

  constructor(private readonly maxEntries: number) {}

  /** Removes and returns the execution, so no two tasks advance it at once. */
  take(runId: string): Execution | undefined {
    const ex = this.entries.get(runId);
    if (ex) this.entries.delete(runId);
    return ex;
  }

  put(runId: string, execution: Execution): void {
    if (this.maxEntries <= 0) return;
    this.entries.delete(runId);
    this.entries.set(runId, execution);
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }

  delete(runId: string): void {
    this.entries.delete(runId);
  }

  /**
   * Notes the run's log as this worker has just seen it, from some seq to its end as it was then (a
   * dispatched step's claim: what it read and the step_started it appended). The run's kept execution
   * may take it instead of reading its tail (knownTail). That is safe for the same reason as
   * `resumesUnread`: the execution's next append is fenced at the seq it knows, so anything appended
   * since (every outside writer also sends the run a wake-up) makes it conflict and the run replay.
   */
  noteTail(runId: string, events: DurablyEvent[]): void {
    if (events.length > 0) this.tails.set(runId, events);
  }

  /** Forgets the noted tail (its continuation is over, used or not). */
  dropTail(runId: string): void {
    this.tails.delete(runId);
  }

  /**
   * The noted events of the run from `fromSeq` on, when the noted tail covers that seq; undefined
   * when nothing is noted or it starts later (a gap: the caller reads). Taken once.
   */
  knownTail(runId: string, fromSeq: number): DurablyEvent[] | undefined {
    const tail = this.tails.get(runId);
    if (!tail) return undefined;
    this.tails.delete(runId);
    if (tail[0].seq > fromSeq || tail[tail.length - 1].seq < fromSeq - 1) return undefined;
    return tail.filter((e) => e.seq >= fromSeq);
  }

  clear(): void {
    this.entries.clear();
    this.tails.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}

/**
 * Whether a suspended execution is worth keeping: it waits on dispatched steps, or something of it
 * falls due within `windowMs` (the worker's localTimerWindow: its wake-up is held by local timers,
 * not sent through the broker).
 */
export function worthKeeping(execution: Execution, now: number, windowMs: number): boolean {
  if (execution.waitingOnDispatched) return true;
  const due = execution.dueAt;
  return windowMs > 0 && due !== undefined && due - now <= windowMs;
}

/**
 * Whether a kept execution woken by its timer may go on without reading the log's tail first: only
 * when something of it is due now, so that it will append, and that append is conditional on the
 * seq it knows. Anything another writer appended meanwhile (a signal, a cancel, a termination) makes
 * that append fail, and the run is replayed from storage (StaleExecutionError), exactly as for a live
 * execution whose sleep falls due while its inline steps run. Nothing leaves the process before that
 * append is durable. A wake-up with nothing due (a timer moved, a virtual clock behind) reads the tail.
 */
export function resumesUnread(execution: Execution, now: number): boolean {
  const due = execution.dueAt;
  return due !== undefined && due <= now;
}
