import type { DurablyEvent, EventType, Logger } from '@durably/contracts';

/**
 * Events that a run's own execution writes, after its code has run past the point they record.
 * Events written from outside (run_created, signals, hook payloads, cancel requests, children's
 * outcomes, the outcomes of dispatched steps) are absent: code after them may never have run yet.
 * A type added later and not listed here counts as outside, so its lines are logged, never lost.
 */
const WRITTEN_BY_EXECUTION = new Set<EventType>([
  'run_started',
  'run_interrupted',
  'step_scheduled',
  'sleep_started',
  'sleep_completed',
  'value_recorded',
  'hook_created',
  'hook_timed_out',
  'hook_closed',
  'signal_waiting',
  'signal_timed_out',
  'signal_wait_cancelled',
  'scope_cancelled',
  'condition_waiting',
  'condition_timed_out',
  'patch_marker',
  'update_completed',
  'update_failed',
  'attributes_set',
  'child_started',
  'run_completed',
  'run_failed',
  'run_cancelled',
  'run_continued',
]);

/**
 * The highest seq in `events` that this run's execution wrote. Workflow code that runs on replay
 * before that point already ran (and logged) in an earlier execution. Inline step starts and outcomes are
 * the execution's own; a dispatched step's (its step_scheduled is in the log) come from another worker.
 */
export function lastSeqWrittenByExecution(events: DurablyEvent[], dispatched: Set<string>, from = 0): number {
  let last = from;
  for (const ev of events) {
    if (ev.type === 'step_scheduled' && ev.correlationId) dispatched.add(ev.correlationId);
    const own = WRITTEN_BY_EXECUTION.has(ev.type) || ((ev.type === 'step_started' || ev.type === 'step_completed' || ev.type === 'step_failed') && !dispatched.has(ev.correlationId ?? ''));
    if (own && ev.seq > last) last = ev.seq;
  }
  return last;
}

/**
 * The workflow's logger: lines logged while the code re-runs what an earlier execution already ran
 * (replay) are dropped, so a line logged before a sleep is not logged again when the run resumes.
 */
export function replayAwareLogger(base: Logger, replaying: () => boolean): Logger {
  return {
    debug: (msg, fields) => void (replaying() || base.debug(msg, fields)),
    info: (msg, fields) => void (replaying() || base.info(msg, fields)),
    warn: (msg, fields) => void (replaying() || base.warn(msg, fields)),
    error: (msg, fields) => void (replaying() || base.error(msg, fields)),
    child: (fields) => replayAwareLogger(base.child(fields), replaying),
  };
}
