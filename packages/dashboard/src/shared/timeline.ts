import type { BarState, TimelineBar, TimelineLane, TimelineLayout, TimelineMarker } from './api-types.js';
import { deriveSteps, finalEvent, type LogEvent } from './steps.js';

/**
 * Lays a run's log out as a timeline: one lane per durable call (each step, sleep, hook, signal wait
 * and child) in the order the workflow made them, each with bars on a time axis, and markers for
 * instants (failures, signals arriving, cancel requests, worker losses, the run's end).
 *
 * A bar whose end is missing is still going on. When the run has ended, bars left open are closed at
 * the run's end as `cancelled`: the run stopped waiting for them. Pure: the page scales the result.
 */
export function layoutTimeline(events: readonly LogEvent[]): TimelineLayout {
  const final = finalEvent(events);
  const start = events[0]?.at ?? 0;
  const end = final?.at;
  const lanes = new Map<string, TimelineLane & { firstSeq: number }>();
  const markers: TimelineMarker[] = [];
  const signalWaits = new Map<string, TimelineLane[]>();
  /** Multi-use hooks, by position: their lane stays open across payloads. */
  const multiUseHooks = new Set<string | undefined>();
  const lane = (id: string, kind: TimelineLane['kind'], label: string, firstSeq: number) => {
    let l = lanes.get(id);
    if (!l) {
      l = { id, kind, label, bars: [], firstSeq };
      lanes.set(id, l);
    }
    return l;
  };

  for (const step of deriveSteps(events)) {
    const l = lane(`step:${step.correlationId}`, 'step', step.name, step.firstSeq);
    step.attempts.forEach((a, i) => {
      const retrying = a.outcome === 'failed' && a.retryAt !== undefined;
      const state: BarState = a.outcome === 'completed' ? 'completed' : a.outcome === 'running' ? 'open' : retrying ? 'retrying' : 'failed';
      const bar: TimelineBar = { kind: 'attempt', start: a.start, state, label: `${step.name} #${a.attempt}`, attempt: a.attempt, startSeq: a.startSeq, endSeq: a.endSeq };
      if (a.end !== undefined) bar.end = a.end;
      if (a.startSource !== 'step_started') bar.estimatedStart = true;
      if (a.error) bar.error = `${a.error.name}: ${a.error.message}`;
      l.bars.push(bar);
      if (a.outcome === 'failed' && a.end !== undefined) {
        markers.push({ kind: 'failure', at: a.end, label: `${step.name} attempt ${a.attempt} failed${a.error ? `: ${a.error.message}` : ''}`, seq: a.endSeq ?? 0, laneId: l.id });
      }
      if (retrying && a.end !== undefined) {
        // The backoff between this attempt and the next one.
        const next = step.attempts[i + 1];
        const waitEnd = next ? Math.min(next.start, a.retryAt!) : a.retryAt!;
        if (waitEnd > a.end || !next) {
          const wait: TimelineBar = { kind: 'retry_wait', start: a.end, state: next ? 'completed' : 'open', label: `retry at ${new Date(a.retryAt!).toISOString()}`, plannedEnd: a.retryAt };
          if (next) wait.end = Math.max(waitEnd, a.end);
          l.bars.push(wait);
        }
      }
    });
  }

  events.forEach((ev) => {
    const cid = ev.correlationId;
    switch (ev.type) {
      case 'sleep_started': {
        const l = lane(`sleep:${cid}`, 'sleep', `sleep ${describeSpan(ev.data.wakeAt - ev.at)}`, ev.seq);
        l.bars.push({ kind: 'sleep', start: ev.at, state: 'open', label: `until ${new Date(ev.data.wakeAt).toISOString()}`, plannedEnd: ev.data.wakeAt, startSeq: ev.seq });
        break;
      }
      case 'sleep_completed':
        close(lanes.get(`sleep:${cid}`), ev, 'completed');
        break;
      case 'hook_created': {
        const l = lane(`hook:${cid}`, 'hook', `hook ${ev.data.name}`, ev.seq);
        const bar: TimelineBar = { kind: 'hook_wait', start: ev.at, state: 'open', label: `waiting for hook ${ev.data.name}`, startSeq: ev.seq };
        if (ev.data.expiresAt !== undefined) bar.plannedEnd = ev.data.expiresAt;
        l.bars.push(bar);
        if (ev.data.multiUse) multiUseHooks.add(cid);
        break;
      }
      case 'hook_received':
        // A multi-use hook's lane stays open until hook_closed.
        if (!multiUseHooks.has(cid)) close(lanes.get(`hook:${cid}`), ev, 'completed');
        break;
      case 'hook_closed':
        close(lanes.get(`hook:${cid}`), ev, 'completed');
        break;
      case 'hook_timed_out':
        close(lanes.get(`hook:${cid}`), ev, 'timed_out');
        break;
      case 'signal_waiting': {
        const l = lane(`signal:${cid}`, 'signal', `signal ${ev.data.name}`, ev.seq);
        signalWaits.set(ev.data.name, [...(signalWaits.get(ev.data.name) ?? []), l]);
        const bar: TimelineBar = { kind: 'signal_wait', start: ev.at, state: 'open', label: `waiting for signal ${ev.data.name}`, startSeq: ev.seq };
        if (ev.data.timeoutAt !== undefined) bar.plannedEnd = ev.data.timeoutAt;
        l.bars.push(bar);
        break;
      }
      case 'signal_timed_out':
        close(lanes.get(`signal:${cid}`), ev, 'timed_out');
        break;
      case 'signal_received': {
        markers.push({ kind: 'signal', at: ev.at, label: `signal ${ev.data.name} received`, seq: ev.seq });
        // Signals are taken in arrival order: the oldest open wait for this name gets this one.
        const waiting = (signalWaits.get(ev.data.name) ?? []).find((l) => l.bars.at(-1)?.end === undefined);
        close(waiting, ev, 'completed');
        break;
      }
      case 'child_started': {
        const l = lane(`child:${cid}`, 'child', `child ${ev.data.workflow}`, ev.seq);
        l.bars.push({ kind: 'child', start: ev.at, state: 'open', label: ev.data.childRunId, childRunId: ev.data.childRunId, startSeq: ev.seq });
        break;
      }
      case 'child_completed':
        close(lanes.get(`child:${cid}`), ev, 'completed');
        break;
      case 'child_failed':
        close(lanes.get(`child:${cid}`), ev, 'failed');
        break;
      case 'cancel_requested':
        markers.push({ kind: 'cancel_requested', at: ev.at, label: `cancel requested${ev.data?.reason ? `: ${ev.data.reason}` : ''}`, seq: ev.seq });
        break;
      case 'scope_cancelled': {
        // The calls a cancellation scope cancelled end here; the scope's own mark says why.
        const data = ev.data as { reason?: string; calls?: string[] };
        markers.push({ kind: 'cancel_requested', at: ev.at, label: `${cid ?? 'scope'} cancelled${data.reason ? `: ${data.reason}` : ''}`, seq: ev.seq });
        for (const position of data.calls ?? []) for (const kind of ['step', 'sleep', 'hook', 'signal', 'child']) close(lanes.get(`${kind}:${position}`), ev, 'cancelled');
        break;
      }
      case 'run_interrupted':
        markers.push({ kind: 'interrupted', at: ev.at, label: `worker lost (recovery ${ev.data.attempt})`, seq: ev.seq });
        break;
      default:
        break;
    }
  });

  if (final) {
    markers.push({ kind: 'run_end', at: final.at, label: final.type.replace('run_', 'run '), seq: final.seq });
    for (const l of lanes.values()) {
      for (const bar of l.bars) {
        if (bar.state !== 'open') continue;
        bar.end = Math.max(Math.min(bar.end ?? final.at, final.at), bar.start);
        bar.state = 'cancelled';
      }
    }
  }
  const ordered = [...lanes.values()].sort((a, b) => a.firstSeq - b.firstSeq).map(({ firstSeq: _, ...l }) => l);
  markers.sort((a, b) => a.at - b.at || a.seq - b.seq);
  const layout: TimelineLayout = { start, lanes: ordered, markers };
  if (end !== undefined) layout.end = end;
  return layout;
}

function close(l: TimelineLane | undefined, ev: LogEvent, state: BarState): void {
  const bar = l?.bars.at(-1);
  if (!bar || bar.end !== undefined) return;
  bar.end = Math.max(ev.at, bar.start);
  bar.state = state;
  bar.endSeq = ev.seq;
}

/** 1500 -> "1.5s", 90000 -> "1m 30s": for labels. */
export function describeSpan(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '0ms';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${Number((ms / 1000).toFixed(ms < 10_000 ? 1 : 0))}s`;
  const units: Array<[string, number]> = [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]];
  const parts: string[] = [];
  let rest = Math.round(ms / 1000) * 1000;
  for (const [unit, size] of units) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
    if (parts.length === 2) break;
  }
  return parts.join(' ');
}
