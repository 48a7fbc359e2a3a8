/**
 * Replaying a recorded log against the current code, as a check: the engine's own replay (`feed`,
 * the path a worker takes when it resumes a run) on an execution that can write nothing, then a look
 * at whether the code ended the way the log says. `replayHistory` in @durably/testing builds on it.
 */
import {
  type DurablyEvent,
  type EventType,
  type Logger,
  type RunRecord,
  type Storage,
  DurablyError,
  InvalidArgumentError,
  NonDeterminismError,
  TERMINAL_EVENT_TYPES,
  errorToObject,
  serialize,
} from '@durably/contracts';
import type { WorkflowDefinition } from './definitions.js';
import { Execution } from './execution.js';
import { ContinueAsNew } from './control.js';
import type { ExecutionDeps } from './deps.js';

/** Where the code first did something other than the log records. */
export interface ReplayDivergence {
  /** The run whose log diverged (the exported run, or one of its continuations). */
  runId: string;
  /** The seq of the first logged event the code disagrees with. */
  seq: number;
  /** That event's type. */
  eventType: EventType;
  /** The durable call's position ("3"), when the divergence is at a call. */
  position?: string;
  /** What the log recorded there: `step("charge")`, `the run to complete with "ok"`... */
  expected: string;
  /** What the current code did instead. */
  got: string;
  /** A sentence saying both, with the way to fix it. */
  message: string;
}

/** The outcome of replaying a log: the code made the same calls and ended as recorded, or where it first did not. */
export type ReplayCheck = { ok: true } | { ok: false; divergence: ReplayDivergence };

/** Outcomes the engine decides whatever the code does (a deadline, a lost worker, the event limit): the code need not have ended. */
const ENGINE_DECIDED = new Set(['WORKFLOW_TIMEOUT', 'WORKER_LOST', 'EVENT_LIMIT_EXCEEDED']);

/** The code re-runs recorded history only: its logger stays silent, as on any replay. */
const silent: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined, child: () => silent };

/**
 * Replays `events` (a run's whole log, seq 1 onward) against `def`'s current code. No step body runs
 * (outcomes come from the log) and nothing is written: the execution's storage refuses every call.
 * Resolves `{ ok: true }` when the code made the calls the log records, in its order, and (for a
 * finished run) ended as the log says; otherwise the first divergence.
 */
export async function replayRunLog(def: WorkflowDefinition, run: RunRecord, events: DurablyEvent[]): Promise<ReplayCheck> {
  if (run.workflow !== def.name) {
    throw new InvalidArgumentError(`replayHistory(): run ${run.runId} is a run of workflow "${run.workflow}", not of "${def.name}"; pass the workflow that recorded it.`);
  }
  const lastAt = events[events.length - 1]?.at ?? run.createdAt;
  const deps: ExecutionDeps = {
    storage: refusingStorage(run.runId),
    logger: silent,
    workerId: 'replay',
    clock: () => lastAt,
    inlineRetryMaxMs: 0,
    runsInline: () => false,
    runAttempt: async () => ({ ok: false, error: new DurablyError('a history replay runs no step body') }),
    afterFlush: async () => {
      throw new DurablyError('a history replay publishes nothing');
    },
    readOnly: true,
  };
  const execution = new CheckedReplay(run, def, deps);
  await execution.feed(events);
  return execution.check(events);
}

class CheckedReplay extends Execution {
  check(events: DurablyEvent[]): ReplayCheck {
    const fatal = this.fatal;
    if (fatal instanceof NonDeterminismError) {
      const ev = firstEventOf(events, fatal.position) ?? events[events.length - 1];
      return this.diverged(ev, { position: fatal.position, expected: fatal.recorded, got: fatal.current, message: fatal.message });
    }
    const last = events[events.length - 1];
    if (!TERMINAL_EVENT_TYPES.has(last.type)) return { ok: true }; // a run in flight: the code waits where the log ends
    const expected = describeEnd(last);
    if (last.type === 'run_failed' && ENGINE_DECIDED.has(last.data.error.code ?? '')) return { ok: true };
    // Ended from outside with no cancel_requested (a parent's 'terminate' close policy): the code had no say.
    if (last.type === 'run_cancelled' && !events.some((e) => e.type === 'cancel_requested')) return { ok: true };
    const got = this.describeOwnEnd();
    if (got === expected) return { ok: true };
    return this.diverged(last, {
      expected,
      got,
      message: `Run ${this.runId} diverges at seq ${last.seq}: the log ends with ${expected}, but the current code ${got.startsWith('still ') ? `is ${got}` : `ends with ${got}`}. Guard changed code with patched('<id>') so that runs already in flight keep their old path.`,
    });
  }

  /** How the code ended (as the event the live loop would write), or what it still waits on. */
  protected describeOwnEnd(): string {
    if (this.fatal) return describeEnd({ type: 'run_failed', data: { error: errorToObject(this.fatal) } });
    if (this.cancelReason && this.outcome) return describeEnd({ type: 'run_cancelled', data: this.cancelReason });
    const outcome = this.outcome;
    if (!outcome) {
      const pending = [...this.commands.values()].filter((c) => !c.settled).map((c) => `${c.describe()} (call #${c.id})`);
      return pending.length > 0 ? `still waiting on ${pending.join(', ')}, which the log does not record` : 'still running (it awaits something that is not a durable call)';
    }
    if (!outcome.ok && outcome.error instanceof ContinueAsNew) return describeEnd({ type: 'run_continued', data: { nextRunId: '' } });
    if (outcome.ok) {
      try {
        return describeEnd({ type: 'run_completed', data: { result: serialize(outcome.value) } });
      } catch (err) {
        return describeEnd({ type: 'run_failed', data: { error: errorToObject(err) } });
      }
    }
    return describeEnd({ type: 'run_failed', data: { error: errorToObject(outcome.error) } });
  }

  protected diverged(ev: DurablyEvent, d: Omit<ReplayDivergence, 'runId' | 'seq' | 'eventType'>): ReplayCheck {
    return { ok: false, divergence: { runId: this.runId, seq: ev.seq, eventType: ev.type, ...d } };
  }
}

/** The first event of the call at `position` (its step hooks' events included). */
function firstEventOf(events: DurablyEvent[], position: string): DurablyEvent | undefined {
  return events.find((e) => e.correlationId === position || e.correlationId?.startsWith(`${position}/`));
}

type EndEvent = Pick<DurablyEvent, 'type' | 'data'>;

/** A terminal event in words, comparable between the log and the code: the result, or the error's name and message. */
function describeEnd(ev: EndEvent): string {
  switch (ev.type) {
    case 'run_completed':
      return `run_completed (result ${(ev.data as { result: string }).result})`;
    case 'run_failed': {
      const error = (ev.data as { error: { name: string; message: string } }).error;
      return `run_failed (${error.name}: ${error.message})`;
    }
    default:
      return ev.type;
  }
}

/** A storage whose every method throws: a history replay must not read or write anything. */
function refusingStorage(runId: string): Storage {
  return new Proxy({} as Storage, {
    get(_target, prop) {
      if (prop === 'then') return undefined;
      return () => {
        throw new DurablyError(`A history replay of run ${runId} touched storage (${String(prop)}); it must write nothing. This is a bug in Durably: please report it.`);
      };
    },
  });
}
