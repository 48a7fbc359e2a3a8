import { describe, expect, it } from 'vitest';
import type { LogEvent } from './steps.js';
import { deriveSteps } from './steps.js';
import { describeSpan, layoutTimeline } from './timeline.js';

/** A log from (type, at, correlationId, data) rows, numbered from 1. */
function log(...rows: Array<[string, number, string | undefined, Record<string, unknown>?]>): LogEvent[] {
  return rows.map(([type, at, correlationId, data], i) => ({ seq: i + 1, type, at, correlationId, data: data ?? {} }));
}

const created: [string, number, undefined, Record<string, unknown>] = ['run_created', 1000, undefined, { workflow: 'w', args: '[[]]', queue: 'default' }];

describe('deriveSteps', () => {
  it('estimates an inline attempt from the event before it, a retry from its retryAt, a dispatched one from step_scheduled', () => {
    const steps = deriveSteps(
      log(
        created,
        ['run_started', 1010, undefined, { workerId: 'w1' }],
        ['step_completed', 1020, '1', { name: 'a', attempt: 1, result: '[1]' }],
        ['step_failed', 1030, '2', { name: 'b', attempt: 1, error: { name: 'Error', message: 'busy' }, retryAt: 1080 }],
        ['step_completed', 1100, '2', { name: 'b', attempt: 2, result: '[2]' }],
        ['step_scheduled', 1105, '3', { name: 'c', args: '[[]]', queue: 'q' }],
        ['step_completed', 1150, '3', { name: 'c', attempt: 1, result: '[3]' }],
      ),
    );
    expect(steps.map((s) => [s.name, s.status])).toEqual([
      ['a', 'completed'],
      ['b', 'completed'],
      ['c', 'completed'],
    ]);
    expect(steps[0].attempts).toEqual([expect.objectContaining({ attempt: 1, start: 1010, end: 1020, startSource: 'previous_event', outcome: 'completed' })]);
    expect(steps[1].attempts).toEqual([
      expect.objectContaining({ attempt: 1, start: 1020, end: 1030, startSource: 'previous_event', outcome: 'failed', retryAt: 1080, error: { name: 'Error', message: 'busy' } }),
      expect.objectContaining({ attempt: 2, start: 1080, end: 1100, startSource: 'retry_at', outcome: 'completed' }),
    ]);
    expect(steps[2]).toMatchObject({ queue: 'q', args: '[[]]', attempts: [{ start: 1105, startSource: 'step_scheduled' }] });
  });

  it('takes the start from step_started when the log has it, and shows an attempt still running', () => {
    const steps = deriveSteps(
      log(
        created,
        ['step_started', 1050, '1', { name: 'a', attempt: 1, workerId: 'w1', leaseUntil: 9000 }],
        ['step_failed', 1070, '1', { name: 'a', attempt: 1, error: { name: 'Error', message: 'x' }, retryAt: 1100 }],
        ['step_started', 1101, '1', { name: 'a', attempt: 2, workerId: 'w2', leaseUntil: 9000 }],
      ),
    );
    expect(steps[0].status).toBe('running');
    expect(steps[0].attempts).toEqual([
      expect.objectContaining({ attempt: 1, start: 1050, end: 1070, startSource: 'step_started', workerId: 'w1', outcome: 'failed' }),
      expect.objectContaining({ attempt: 2, start: 1101, startSource: 'step_started', workerId: 'w2', outcome: 'running' }),
    ]);
    expect(steps[0].attempts[1].end).toBeUndefined();
  });

  it('tells retrying, failed for good, waiting on a step hook, and abandoned apart', () => {
    const running = log(
      created,
      ['step_failed', 1010, '1', { name: 'retrying', attempt: 1, error: { name: 'Error', message: 'x' }, retryAt: 5000 }],
      ['step_failed', 1020, '2', { name: 'fatal', attempt: 1, error: { name: 'FatalError', message: 'no', fatal: true } }],
      ['step_scheduled', 1030, '3', { name: 'hooked', args: '[[]]', queue: 'default' }],
      ['hook_created', 1040, '3/approve', { name: 'approve', token: 't' }],
    );
    expect(deriveSteps(running).map((s) => s.status)).toEqual(['retrying', 'failed', 'waiting']);
    const ended = [...running, { seq: running.length + 1, type: 'run_cancelled', at: 2000, data: {} }];
    expect(deriveSteps(ended).map((s) => s.status)).toEqual(['abandoned', 'failed', 'abandoned']);
  });
});

describe('layoutTimeline', () => {
  it('draws each attempt as a bar in its step lane, the backoff between attempts, and marks the failure', () => {
    const layout = layoutTimeline(
      log(
        created,
        ['step_failed', 1030, '1', { name: 'charge', attempt: 1, error: { name: 'Error', message: 'busy' }, retryAt: 1080 }],
        ['step_completed', 1100, '1', { name: 'charge', attempt: 2, result: '[2]' }],
        ['run_completed', 1110, undefined, { result: '[2]' }],
      ),
    );
    expect(layout.start).toBe(1000);
    expect(layout.end).toBe(1110);
    expect(layout.lanes).toHaveLength(1);
    expect(layout.lanes[0]).toMatchObject({ id: 'step:1', kind: 'step', label: 'charge' });
    expect(layout.lanes[0].bars).toEqual([
      expect.objectContaining({ kind: 'attempt', attempt: 1, start: 1000, end: 1030, state: 'retrying', estimatedStart: true, error: 'Error: busy' }),
      expect.objectContaining({ kind: 'retry_wait', start: 1030, end: 1080, state: 'completed', plannedEnd: 1080 }),
      expect.objectContaining({ kind: 'attempt', attempt: 2, start: 1080, end: 1100, state: 'completed', estimatedStart: true }),
    ]);
    expect(layout.markers).toEqual([
      expect.objectContaining({ kind: 'failure', at: 1030, laneId: 'step:1' }),
      expect.objectContaining({ kind: 'run_end', at: 1110, label: 'run completed' }),
    ]);
  });

  it('draws sleeps, hook waits, signal waits and children as spans, in the order the workflow made the calls', () => {
    const layout = layoutTimeline(
      log(
        created,
        ['sleep_started', 1010, '1', { wakeAt: 2010 }],
        ['sleep_completed', 2015, '1'],
        ['hook_created', 2020, '2', { name: 'approval', token: 'secret', expiresAt: 9000 }],
        ['hook_received', 3000, '2', { payload: '[{}]' }],
        ['signal_waiting', 3010, '3', { name: 'go', timeoutAt: 9000 }],
        ['signal_received', 3500, undefined, { name: 'go', payload: '[1]' }],
        ['child_started', 3600, '4', { childRunId: 'kid', workflow: 'notify', parentClosePolicy: 'terminate' }],
        ['child_completed', 3900, '4', { childRunId: 'kid', result: '[1]' }],
        ['hook_created', 4000, '5', { name: 'late', token: 't2', expiresAt: 4500 }],
        ['hook_timed_out', 4500, '5'],
      ),
    );
    expect(layout.end).toBeUndefined();
    expect(layout.lanes.map((l) => [l.id, l.kind, l.label])).toEqual([
      ['sleep:1', 'sleep', 'sleep 1s'],
      ['hook:2', 'hook', 'hook approval'],
      ['signal:3', 'signal', 'signal go'],
      ['child:4', 'child', 'child notify'],
      ['hook:5', 'hook', 'hook late'],
    ]);
    const bars = layout.lanes.map((l) => l.bars[0]);
    expect(bars[0]).toMatchObject({ kind: 'sleep', start: 1010, end: 2015, state: 'completed', plannedEnd: 2010 });
    expect(bars[1]).toMatchObject({ kind: 'hook_wait', start: 2020, end: 3000, state: 'completed', startSeq: 4, endSeq: 5 });
    expect(bars[2]).toMatchObject({ kind: 'signal_wait', start: 3010, end: 3500, state: 'completed' });
    expect(bars[3]).toMatchObject({ kind: 'child', start: 3600, end: 3900, state: 'completed', childRunId: 'kid' });
    expect(bars[4]).toMatchObject({ kind: 'hook_wait', end: 4500, state: 'timed_out' });
    expect(layout.markers).toEqual([expect.objectContaining({ kind: 'signal', at: 3500 })]);
  });

  it('ends the calls a cancellation scope cancelled at its scope_cancelled, marked with its reason', () => {
    const layout = layoutTimeline(
      log(
        created,
        ['sleep_started', 1010, '1', { wakeAt: 90_000 }],
        ['hook_created', 1010, '2', { name: 'approval', token: 't', expiresAt: 90_000 }],
        ['sleep_started', 1010, '3', { wakeAt: 2000 }],
        ['sleep_completed', 2000, '3'],
        ['scope_cancelled', 2000, 'scope:1', { reason: 'too slow', calls: ['1', '2'] }],
      ),
    );
    expect(layout.lanes.map((l) => [l.id, l.bars[0].state, l.bars[0].end])).toEqual([
      ['sleep:1', 'cancelled', 2000],
      ['hook:2', 'cancelled', 2000],
      ['sleep:3', 'completed', 2000],
    ]);
    expect(layout.markers).toEqual([expect.objectContaining({ kind: 'cancel_requested', at: 2000, label: 'scope:1 cancelled: too slow', seq: 6 })]);
  });

  it('leaves waits open while the run goes on, and closes them at the run end when it stops', () => {
    const open = log(created, ['sleep_started', 1010, '1', { wakeAt: 86_401_010 }], ['signal_waiting', 1010, '2', { name: 'go', timeoutAt: 5000 }]);
    const running = layoutTimeline(open);
    expect(running.lanes.map((l) => l.bars[0].end)).toEqual([undefined, undefined]);
    expect(running.lanes.map((l) => l.bars[0].state)).toEqual(['open', 'open']);
    const stopped = layoutTimeline([...open, { seq: 4, type: 'cancel_requested', at: 1500, data: { reason: 'enough' } }, { seq: 5, type: 'run_cancelled', at: 1600, data: {} }]);
    expect(stopped.lanes.map((l) => [l.bars[0].end, l.bars[0].state])).toEqual([
      [1600, 'cancelled'],
      [1600, 'cancelled'],
    ]);
    expect(stopped.markers.map((m) => m.kind)).toEqual(['cancel_requested', 'run_end']);
  });

  it('passes over event types it does not know', () => {
    const layout = layoutTimeline(log(created, ['some_future_event', 1010, '1', { anything: true }]));
    expect(layout.lanes).toEqual([]);
  });

  it('gives a buffered signal to the oldest open wait of that name only', () => {
    const layout = layoutTimeline(
      log(created, ['signal_waiting', 1010, '1', { name: 'go', timeoutAt: 9000 }], ['signal_waiting', 1020, '2', { name: 'go', timeoutAt: 9000 }], ['signal_received', 1030, undefined, { name: 'go', payload: '[1]' }]),
    );
    expect(layout.lanes.map((l) => l.bars[0].end)).toEqual([1030, undefined]);
  });
});

describe('describeSpan', () => {
  it('writes spans for people', () => {
    expect([0, 12, 1500, 12_300, 90_000, 3_600_000 + 60_000, 2 * 86_400_000 + 3_600_000, -5].map(describeSpan)).toEqual(['0ms', '12ms', '1.5s', '12s', '1m 30s', '1h 1m', '2d 1h', '0ms']);
  });
});
