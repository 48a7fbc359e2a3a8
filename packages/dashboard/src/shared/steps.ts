import type { AttemptStartSource, ErrorView, StepStatus } from './api-types.js';

/**
 * The log as this module reads it: any event with a type string. Typed loosely on purpose, so that
 * event types this build of the dashboard does not know (a newer engine's) pass through unharmed.
 */
export interface LogEvent {
  seq: number;
  type: string;
  at: number;
  correlationId?: string;
  data: any;
}

/**
 * One attempt of a step as {@link deriveSteps} reads it from the log: an `AttemptView` plus the seqs
 * of the events that opened and closed it. Times are epoch milliseconds.
 */
export interface DerivedAttempt {
  attempt: number;
  start: number;
  startSource: AttemptStartSource;
  end?: number;
  outcome: 'completed' | 'failed' | 'running';
  error?: ErrorView;
  retryAt?: number;
  workerId?: string;
  /** The seq of the event the start was taken from. */
  startSeq?: number;
  /** The seq of its `step_completed` or `step_failed`. */
  endSeq?: number;
}

/** One step call as {@link deriveSteps} reads it from the log, with its payloads still as stored. */
export interface DerivedStep {
  /** The step call's position in the run. */
  correlationId: string;
  name: string;
  status: StepStatus;
  queue?: string;
  /** Devalue text, as stored: recorded for dispatched steps only. */
  args?: string;
  result?: string;
  attempts: DerivedAttempt[];
  /** The seq of the step's first event (orders the steps as the run called them). */
  firstSeq: number;
}

const FINAL_TYPES = new Set(['run_completed', 'run_failed', 'run_cancelled', 'run_continued']);

/** The run's final event, when it has ended. */
export function finalEvent(events: readonly LogEvent[]): LogEvent | undefined {
  const last = events.at(-1);
  return last && FINAL_TYPES.has(last.type) ? last : undefined;
}

/**
 * The steps of a run and their attempts, read from the log.
 *
 * An attempt's end is the time of its step_completed or step_failed. Its start is the time of its
 * step_started event when the log has one; logs written before that event existed, and inline
 * steps, have none, so the start is estimated (and `startSource` says how): the previous failure's
 * retryAt for a retry, the step_scheduled time for a dispatched first attempt (it includes the wait
 * in the queue), else the time of the event just before the outcome.
 */
export function deriveSteps(events: readonly LogEvent[]): DerivedStep[] {
  const steps = new Map<string, DerivedStep>();
  const ended = finalEvent(events) !== undefined;
  const stepOf = (ev: LogEvent): DerivedStep => {
    const id = ev.correlationId ?? `seq:${ev.seq}`;
    let s = steps.get(id);
    if (!s) {
      s = { correlationId: id, name: String(ev.data?.name ?? id), status: 'scheduled', attempts: [], firstSeq: ev.seq };
      steps.set(id, s);
    }
    return s;
  };
  const waitingHooks = new Map<string, string>(); // hook correlation id -> step correlation id

  events.forEach((ev, index) => {
    switch (ev.type) {
      case 'step_scheduled': {
        const s = stepOf(ev);
        s.queue = ev.data.queue;
        s.args = ev.data.args;
        break;
      }
      case 'step_started': {
        const s = stepOf(ev);
        s.attempts.push({ attempt: Number(ev.data.attempt), start: ev.at, startSource: 'step_started', outcome: 'running', workerId: ev.data.workerId, startSeq: ev.seq });
        s.status = 'running';
        break;
      }
      case 'step_failed':
      case 'step_completed': {
        const s = stepOf(ev);
        const attempt = openAttempt(s, Number(ev.data.attempt)) ?? estimatedAttempt(s, Number(ev.data.attempt), events, index);
        attempt.end = Math.max(ev.at, attempt.start);
        attempt.endSeq = ev.seq;
        if (ev.type === 'step_completed') {
          attempt.outcome = 'completed';
          s.result = ev.data.result;
          s.status = 'completed';
        } else {
          attempt.outcome = 'failed';
          attempt.error = ev.data.error;
          if (ev.data.retryAt !== undefined) attempt.retryAt = ev.data.retryAt;
          s.status = ev.data.retryAt === undefined ? 'failed' : 'retrying';
        }
        break;
      }
      case 'hook_created': {
        // A stepHook's id is "<step id>/<hook name>": the step waits for it.
        const cid = ev.correlationId ?? '';
        const slash = cid.indexOf('/');
        if (slash > 0) {
          const stepId = cid.slice(0, slash);
          waitingHooks.set(cid, stepId);
          const s = steps.get(stepId);
          if (s) s.status = 'waiting';
        }
        break;
      }
      case 'hook_received':
      case 'hook_timed_out': {
        const stepId = waitingHooks.get(ev.correlationId ?? '');
        const s = stepId === undefined ? undefined : steps.get(stepId);
        if (s && s.status === 'waiting') s.status = 'scheduled';
        break;
      }
      default:
        break;
    }
  });
  for (const s of steps.values()) {
    if (ended && s.status !== 'completed' && s.status !== 'failed') s.status = 'abandoned';
  }
  return [...steps.values()];
}

function openAttempt(s: DerivedStep, attempt: number): DerivedAttempt | undefined {
  const last = s.attempts.at(-1);
  return last && last.outcome === 'running' && last.attempt === attempt ? last : undefined;
}

function estimatedAttempt(s: DerivedStep, attempt: number, events: readonly LogEvent[], index: number): DerivedAttempt {
  const outcome = events[index];
  const previousFailure = [...s.attempts].reverse().find((a) => a.outcome === 'failed');
  let start: number;
  let startSource: AttemptStartSource;
  if (attempt > 1 && previousFailure?.retryAt !== undefined) {
    start = previousFailure.retryAt;
    startSource = 'retry_at';
  } else if (attempt === 1 && s.args !== undefined && s.attempts.length === 0) {
    const scheduled = events.find((e) => e.type === 'step_scheduled' && e.correlationId === s.correlationId);
    start = scheduled?.at ?? outcome.at;
    startSource = 'step_scheduled';
  } else {
    start = index > 0 ? events[index - 1].at : outcome.at;
    startSource = 'previous_event';
  }
  const derived: DerivedAttempt = { attempt, start: Math.min(start, outcome.at), startSource, outcome: 'running' };
  s.attempts.push(derived);
  return derived;
}
