import type { TimelineBar, TimelineLayout } from '../shared/api-types.js';
import { describeSpan } from '../shared/timeline.js';

/**
 * Maps a run's time to positions on the page's time axis (0 to 100 percent).
 *
 * Workflows mix milliseconds of work with days of waiting: on a linear axis a run with a one-day
 * sleep shows its steps as specks. So long stretches in which nothing starts or ends are compressed
 * to a fixed width and drawn as a break in the axis, labelled with the time they stand for; the rest
 * stays linear. Pure, so it is tested on its own.
 */
export interface Segment {
  from: number;
  to: number;
  compressed: boolean;
  /** Share of the axis from its left edge to this segment's start, and this segment's share. */
  offset: number;
  share: number;
}

export interface Tick {
  at: number;
  pct: number;
  label: string;
}

export interface TimeScale {
  start: number;
  end: number;
  segments: Segment[];
  ticks: Tick[];
  /** Position of a time on the axis, in percent. */
  pct(t: number): number;
}

const GAP_FRACTION = 0.2;
const BREAK_SHARE = 0.08;
const MAX_BREAKS_SHARE = 0.4;
const MAX_BREAKS = 5;
/** Shorter stretches are never compressed: on such scales a linear axis reads fine. */
const MIN_BREAK_MS = 1000;

/** The end of a bar as drawn: its end, else now (a retry wait stops at its planned time). */
export function drawnEnd(bar: TimelineBar, now: number): number {
  if (bar.end !== undefined) return bar.end;
  if (bar.kind === 'retry_wait' && bar.plannedEnd !== undefined) return Math.max(bar.start, Math.min(now, bar.plannedEnd));
  return Math.max(bar.start, now);
}

export function timeScale(layout: TimelineLayout, now: number, options: { compress?: boolean; ticks?: number } = {}): TimeScale {
  const compress = options.compress ?? true;
  const points = new Set<number>([layout.start]);
  let end = layout.end ?? Math.max(now, layout.start);
  for (const lane of layout.lanes) {
    for (const bar of lane.bars) {
      points.add(bar.start);
      points.add(drawnEnd(bar, now));
      // An open wait's planned end is shown ahead of now, so the axis reaches it.
      if (layout.end === undefined && bar.end === undefined && bar.plannedEnd !== undefined && bar.plannedEnd > end) end = bar.plannedEnd;
      if (layout.end === undefined && bar.end === undefined && bar.plannedEnd !== undefined) points.add(bar.plannedEnd);
    }
  }
  for (const m of layout.markers) points.add(m.at);
  points.add(end);
  const sorted = [...points].filter((p) => p >= layout.start && p <= end).sort((a, b) => a - b);
  const total = Math.max(end - layout.start, 1);

  // The longest stretches go first; each is compressed while it is longer than a second and than a
  // fifth of what is left uncompressed, so milliseconds of work between days of waiting show.
  const gaps = sorted.slice(1).map((to, i) => ({ from: sorted[i], to, index: i }));
  const compressedIndexes = new Set<number>();
  if (compress) {
    let remaining = total;
    for (const gap of [...gaps].sort((a, b) => b.to - b.from - (a.to - a.from)).slice(0, MAX_BREAKS)) {
      const length = gap.to - gap.from;
      if (length < MIN_BREAK_MS || length <= remaining * GAP_FRACTION || length >= remaining) break;
      compressedIndexes.add(gap.index);
      remaining -= length;
    }
  }
  const raw: Array<{ from: number; to: number; compressed: boolean }> = [];
  for (const gap of gaps) {
    const compressed = compressedIndexes.has(gap.index);
    const last = raw.at(-1);
    if (last && !last.compressed && !compressed) last.to = gap.to;
    else raw.push({ from: gap.from, to: gap.to, compressed });
  }
  const linear = raw.filter((s) => !s.compressed).reduce((sum, s) => sum + (s.to - s.from), 0);
  const breaks = raw.filter((s) => s.compressed).length;
  // Compress only when something linear is left to show: two points far apart stay linear.
  const useBreaks = breaks > 0 && linear > 0;
  const breakShare = useBreaks ? Math.min(BREAK_SHARE, MAX_BREAKS_SHARE / breaks) : 0;
  const linearShare = 1 - breakShare * (useBreaks ? breaks : 0);
  const segments: Segment[] = [];
  let offset = 0;
  for (const s of raw.length ? raw : [{ from: layout.start, to: end, compressed: false }]) {
    const compressed = useBreaks && s.compressed;
    const share = compressed ? breakShare : useBreaks ? ((s.to - s.from) / linear) * linearShare : (s.to - s.from) / total;
    segments.push({ from: s.from, to: s.to, compressed, offset, share });
    offset += share;
  }

  const pct = (t: number): number => {
    if (t <= layout.start) return 0;
    if (t >= end) return 100;
    for (const s of segments) {
      if (t <= s.to) return (s.offset + (s.to === s.from ? 0 : ((t - s.from) / (s.to - s.from)) * s.share)) * 100;
    }
    return 100;
  };
  return { start: layout.start, end, segments, ticks: makeTicks(layout.start, segments, options.ticks ?? 6), pct };
}

const STEPS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 900_000, 1_800_000, 3_600_000, 7_200_000, 21_600_000, 43_200_000, 86_400_000, 172_800_000, 604_800_000];

/** Round-numbered ticks (offsets from the run's start) in the linear segments, about `count` across the axis. */
function makeTicks(start: number, segments: Segment[], count: number): Tick[] {
  const ticks: Tick[] = [{ at: start, pct: 0, label: '0' }];
  const linear = segments.filter((s) => !s.compressed);
  const linearMs = linear.reduce((sum, s) => sum + (s.to - s.from), 0);
  const linearShare = linear.reduce((sum, s) => sum + s.share, 0);
  if (linearMs <= 0 || linearShare <= 0) return ticks;
  const wanted = (linearMs / linearShare / Math.max(count, 1));
  const step = STEPS.find((s) => s >= wanted) ?? STEPS.at(-1)!;
  for (const s of linear) {
    const first = Math.ceil((s.from - start) / step) * step + start;
    for (let t = first; t <= s.to; t += step) {
      if (t === start) continue;
      const pct = (s.offset + ((t - s.from) / Math.max(s.to - s.from, 1)) * s.share) * 100;
      if (ticks.length && pct - ticks.at(-1)!.pct < 100 / (count * 2)) continue;
      ticks.push({ at: t, pct, label: `+${describeSpan(t - start)}` });
    }
  }
  return ticks;
}
