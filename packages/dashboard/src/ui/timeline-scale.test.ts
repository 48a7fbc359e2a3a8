import { describe, expect, it } from 'vitest';
import type { TimelineLayout } from '../shared/api-types.js';
import { drawnEnd, timeScale } from './timeline-scale.js';

const DAY = 86_400_000;

/** A run of two 20 ms steps on either side of a one-day sleep. */
const sleepyRun: TimelineLayout = {
  start: 0,
  end: DAY + 100,
  lanes: [
    { id: 'step:1', kind: 'step', label: 'a', bars: [{ kind: 'attempt', start: 10, end: 30, state: 'completed', label: 'a #1' }] },
    { id: 'sleep:2', kind: 'sleep', label: 'sleep 1d', bars: [{ kind: 'sleep', start: 40, end: DAY + 40, state: 'completed', label: 'until' }] },
    { id: 'step:3', kind: 'step', label: 'b', bars: [{ kind: 'attempt', start: DAY + 50, end: DAY + 70, state: 'completed', label: 'b #1' }] },
  ],
  markers: [],
};

describe('timeScale', () => {
  it('compresses a long wait to a break, so the work on both sides is visible', () => {
    const scale = timeScale(sleepyRun, DAY + 100);
    const breaks = scale.segments.filter((s) => s.compressed);
    expect(breaks).toEqual([expect.objectContaining({ from: 40, to: DAY + 40, share: 0.08 })]);
    // The 20 ms steps get a real share of the axis instead of 0.00002%.
    const a = scale.pct(30) - scale.pct(10);
    const b = scale.pct(DAY + 70) - scale.pct(DAY + 50);
    expect(a).toBeGreaterThan(15);
    expect(b).toBeCloseTo(a, 5);
    expect(scale.pct(0)).toBe(0);
    expect(scale.pct(DAY + 100)).toBe(100);
    expect(scale.pct(40)).toBeCloseTo(scale.segments[1].offset * 100, 5);
  });

  it('is linear when asked, and when nothing is long enough to compress', () => {
    const linear = timeScale(sleepyRun, DAY + 100, { compress: false });
    expect(linear.segments.every((s) => !s.compressed)).toBe(true);
    expect(linear.pct(DAY / 2 + 50)).toBeCloseTo(50, 3);
    const short: TimelineLayout = { ...sleepyRun, end: 900, lanes: [{ ...sleepyRun.lanes[0], bars: [{ kind: 'sleep', start: 10, end: 800, state: 'completed', label: '' }] }] };
    expect(timeScale(short, 900).segments.every((s) => !s.compressed)).toBe(true);
  });

  it('maps time monotonically across breaks', () => {
    const scale = timeScale(sleepyRun, DAY + 100);
    const times = [0, 5, 10, 30, 40, 1000, DAY / 2, DAY + 40, DAY + 50, DAY + 100];
    const pcts = times.map((t) => scale.pct(t));
    expect([...pcts].sort((x, y) => x - y)).toEqual(pcts);
  });

  it('reaches the planned end of an open wait, and draws open bars up to now', () => {
    const open: TimelineLayout = {
      start: 0,
      lanes: [{ id: 'hook:1', kind: 'hook', label: 'hook h', bars: [{ kind: 'hook_wait', start: 100, state: 'open', label: '', plannedEnd: 3_600_000 }] }],
      markers: [],
    };
    const scale = timeScale(open, 5000);
    expect(scale.end).toBe(3_600_000);
    expect(drawnEnd(open.lanes[0].bars[0], 5000)).toBe(5000);
    // A retry's backoff stops at the retry time even when now is later.
    expect(drawnEnd({ kind: 'retry_wait', start: 0, state: 'open', label: '', plannedEnd: 50 }, 5000)).toBe(50);
  });

  it('labels ticks as offsets from the start, on round numbers', () => {
    const run: TimelineLayout = { start: 1000, end: 11_000, lanes: [{ id: 'step:1', kind: 'step', label: 'a', bars: [{ kind: 'attempt', start: 1000, end: 11_000, state: 'completed', label: '' }] }], markers: [] };
    const labels = timeScale(run, 11_000, { ticks: 5 }).ticks.map((t) => t.label);
    expect(labels).toEqual(['0', '+2s', '+4s', '+6s', '+8s', '+10s']);
  });
});
