import { describe, expect, it } from 'vitest';
import { HISTORY_FORMAT, HISTORY_FORMAT_VERSION, InvalidArgumentError, makeEvent, parseHistory, type RunHistory } from '@durably/contracts';

const run = { runId: 'r1', workflow: 'wf', status: 'completed' as const, queue: 'default', args: '[[],[]]', createdAt: 0, updatedAt: 0, lastSeq: 2 };
const history = (): RunHistory => ({
  format: HISTORY_FORMAT,
  formatVersion: HISTORY_FORMAT_VERSION,
  durablyVersion: '0.1.0',
  exportedAt: 0,
  run,
  events: [makeEvent('r1', 1, 'run_created', { workflow: 'wf', args: '[[],[]]', queue: 'default' }, undefined, 0), makeEvent('r1', 2, 'run_completed', { result: '[1]' }, undefined, 0)],
});

describe('parseHistory', () => {
  it('reads a history from its JSON text or its parsed value', () => {
    expect(parseHistory(JSON.stringify(history()))).toEqual(history());
    expect(parseHistory(history()).run.runId).toBe('r1');
  });

  it('refuses what is not a history, naming the source and what is wrong', () => {
    expect(() => parseHistory('{', 'x.json')).toThrow(InvalidArgumentError);
    expect(() => parseHistory('{', 'x.json')).toThrow(/x\.json is not JSON/);
    expect(() => parseHistory({ ...history(), format: 'other' }, 'x.json')).toThrow(/x\.json is not a Durably run history/);
    expect(() => parseHistory({ ...history(), formatVersion: HISTORY_FORMAT_VERSION + 1 })).toThrow(/format version 2 \(written by Durably 0\.1\.0\); this release reads versions up to 1/);
    expect(() => parseHistory({ ...history(), formatVersion: 'one' })).toThrow(/"formatVersion" must be a whole number/);
    expect(() => parseHistory({ ...history(), run: undefined })).toThrow(/"run" must be a run record/);
    expect(() => parseHistory({ ...history(), events: [] })).toThrow(/"events" must be the run's log/);
  });

  it('refuses a log with a gap or that does not start with run_created', () => {
    const h = history();
    expect(() => parseHistory({ ...h, events: [h.events[0], { ...h.events[1], seq: 3 }] })).toThrow(/event 2 must be an event \{ seq: 2/);
    expect(() => parseHistory({ ...h, events: [{ ...h.events[1], seq: 1 }] })).toThrow(/must start with run_created, not run_completed/);
    expect(() => parseHistory({ ...h, continuations: [{ run, events: [] }] })).toThrow(/continuation 1/);
  });
});
