import { describeSpan } from '../shared/timeline.js';

/** Local date and time to the second, e.g. "2024-05-01 10:00:03". */
export function formatTime(ms: number | undefined): string {
  if (ms === undefined) return '';
  const d = new Date(ms);
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** Time of day with milliseconds, for the event log. */
export function formatClock(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

export function formatDuration(ms: number | undefined): string {
  return ms === undefined ? '' : describeSpan(ms);
}

/** "3m ago", "in 2h": relative to now. */
export function formatRelative(ms: number | undefined, now = Date.now()): string {
  if (ms === undefined) return '';
  const diff = ms - now;
  if (Math.abs(diff) < 1000) return 'now';
  return diff < 0 ? `${describeSpan(-diff)} ago` : `in ${describeSpan(diff)}`;
}

export function shortId(id: string): string {
  return id.length > 13 ? `${id.slice(0, 8)}…${id.slice(-4)}` : id;
}
