import { deserialize, PayloadKeyMissingError, type DurablyEvent } from '@durably/core';

/** One line of a run's timeline: a step attempt, a sleep, a wait for a hook, signal or child. */
export interface TimelineItem {
  kind: 'step' | 'sleep' | 'hook' | 'signal' | 'child' | 'cancel';
  /** The call's position in the run ("1", "2", ...). */
  position?: string;
  name: string;
  attempt?: number;
  start: number;
  end?: number;
  /** completed, failed, retry, waiting, timed_out, requested... */
  outcome: string;
  /** True when the start is estimated (the log records when an attempt ended, not when it began). */
  approximateStart?: boolean;
  detail?: string;
}

/**
 * Builds the timeline of a run from its log. A step attempt starts at its `step_started` event when
 * the log has one, else when its step was scheduled, its previous attempt asked to retry, or the
 * run's previous event was recorded (marked approximate).
 */
export function buildTimeline(events: DurablyEvent[]): TimelineItem[] {
  const items: TimelineItem[] = [];
  const open = new Map<string, TimelineItem>();
  let previousAt = events[0]?.at ?? 0;
  const stepStart = new Map<string, { at: number; exact: boolean }>();
  /** Multi-use hooks by position, with the payloads received so far. */
  const multiUse = new Map<string, number>();
  for (const ev of events) {
    const id = ev.correlationId;
    const type = ev.type as string;
    if (type === 'step_started' && id) {
      stepStart.set(id, { at: ev.at, exact: true });
    } else if (ev.type === 'step_scheduled' && id) {
      stepStart.set(id, { at: ev.at, exact: false });
    } else if ((ev.type === 'step_completed' || ev.type === 'step_failed') && id) {
      const began = stepStart.get(id) ?? { at: previousAt, exact: false };
      const retry = ev.type === 'step_failed' && ev.data.retryAt !== undefined;
      items.push({
        kind: 'step',
        position: id,
        name: ev.data.name,
        attempt: ev.data.attempt,
        start: Math.min(began.at, ev.at),
        end: ev.at,
        outcome: ev.type === 'step_completed' ? 'completed' : retry ? 'retry' : 'failed',
        approximateStart: !began.exact,
        detail: ev.type === 'step_failed' ? `${ev.data.error.name}: ${ev.data.error.message}` + (retry ? ` (retry at ${new Date(ev.data.retryAt!).toISOString()})` : '') : undefined,
      });
      stepStart.set(id, { at: ev.type === 'step_failed' && ev.data.retryAt !== undefined ? ev.data.retryAt : ev.at, exact: false });
    } else if (ev.type === 'sleep_started' && id) {
      const item: TimelineItem = { kind: 'sleep', position: id, name: 'sleep', start: ev.at, outcome: 'waiting', detail: `until ${new Date(ev.data.wakeAt).toISOString()}` };
      open.set(`sleep:${id}`, item);
      items.push(item);
    } else if (ev.type === 'sleep_completed' && id) {
      close(open, `sleep:${id}`, ev.at, 'completed');
    } else if (ev.type === 'hook_created' && id) {
      const detail = [ev.data.multiUse ? 'multi-use' : '', ev.data.expiresAt ? `expires ${new Date(ev.data.expiresAt).toISOString()}` : ''].filter(Boolean).join(', ');
      const item: TimelineItem = { kind: 'hook', position: id, name: ev.data.name, start: ev.at, outcome: 'waiting', detail: detail || undefined };
      open.set(`hook:${id}`, item);
      if (ev.data.multiUse) multiUse.set(id, 0);
      items.push(item);
    } else if (ev.type === 'hook_received' && id && multiUse.has(id)) {
      // A multi-use hook takes more payloads until it is closed: count them.
      const count = multiUse.get(id)! + 1;
      multiUse.set(id, count);
      const item = open.get(`hook:${id}`);
      if (item) item.outcome = `received ${count}`;
    } else if ((ev.type === 'hook_received' || ev.type === 'hook_timed_out' || ev.type === 'hook_closed') && id) {
      close(open, `hook:${id}`, ev.at, ev.type === 'hook_received' ? 'received' : ev.type === 'hook_closed' ? 'closed' : 'timed_out');
    } else if (ev.type === 'signal_waiting' && id) {
      const item: TimelineItem = { kind: 'signal', position: id, name: ev.data.name, start: ev.at, outcome: 'waiting' };
      open.set(`signal:${id}`, item);
      items.push(item);
    } else if (ev.type === 'signal_timed_out' && id) {
      close(open, `signal:${id}`, ev.at, 'timed_out');
    } else if (ev.type === 'signal_received') {
      const waiting = [...open.entries()].find(([k, v]) => k.startsWith('signal:') && v.name === ev.data.name && v.end === undefined);
      if (waiting) close(open, waiting[0], ev.at, 'received');
      else items.push({ kind: 'signal', name: ev.data.name, start: ev.at, end: ev.at, outcome: 'received' });
    } else if (ev.type === 'child_started' && id) {
      const item: TimelineItem = { kind: 'child', position: id, name: ev.data.workflow, start: ev.at, outcome: 'running', detail: `run ${ev.data.childRunId}` };
      open.set(`child:${id}`, item);
      items.push(item);
    } else if ((ev.type === 'child_completed' || ev.type === 'child_failed') && id) {
      close(open, `child:${id}`, ev.at, ev.type === 'child_completed' ? 'completed' : 'failed');
    } else if (ev.type === 'scope_cancelled') {
      // The calls of a cancelled scope end here.
      for (const position of ev.data.calls) for (const kind of ['sleep', 'hook', 'signal', 'child']) close(open, `${kind}:${position}`, ev.at, 'cancelled');
      items.push({ kind: 'cancel', name: id ?? 'scope', start: ev.at, end: ev.at, outcome: 'scope cancelled', detail: ev.data.reason });
    } else if (ev.type === 'cancel_requested') {
      items.push({ kind: 'cancel', name: 'cancel', start: ev.at, end: ev.at, outcome: 'requested', detail: ev.data.reason });
    }
    previousAt = ev.at;
  }
  return items;
}

function close(open: Map<string, TimelineItem>, key: string, at: number, outcome: string): void {
  const item = open.get(key);
  if (!item) return;
  item.end = at;
  item.outcome = outcome;
  open.delete(key);
}

/** A bar on a `width`-character time axis from `from` to `to`. */
export function bar(item: TimelineItem, from: number, to: number, width: number, now: number): string {
  const span = Math.max(1, to - from);
  const start = Math.floor(((item.start - from) / span) * width);
  const end = Math.max(start + 1, Math.ceil((((item.end ?? now) - from) / span) * width));
  const char = item.kind === 'step' ? '█' : item.kind === 'sleep' ? '░' : '▒';
  return ' '.repeat(Math.min(start, width - 1)) + char.repeat(Math.max(1, Math.min(end, width) - Math.min(start, width - 1)));
}

/**
 * A serialized value made readable for a one-line preview. A value encrypted with a key this process
 * lacks shows as `[encrypted (key "k1" missing)]`.
 */
export function readable(serialized: string | undefined): unknown {
  if (serialized === undefined) return undefined;
  try {
    return deserialize(serialized);
  } catch (err) {
    if (err instanceof PayloadKeyMissingError) return `[encrypted (key "${err.keyId}" missing)]`;
    return serialized;
  }
}
