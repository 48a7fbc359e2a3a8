import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, InvalidUrlError, decodeCursor, deadLetterReason, defaultRetryBackoffMs, encodeCursor, jsonLogger, pageLimit, parseServerUrl, PoisonMessageError, redactUrl } from '@durably/contracts';

describe('cursor helpers', () => {
  it('round-trips a cursor and refuses a tampered one', () => {
    expect(decodeCursor(encodeCursor(1700, 'r1'))).toEqual({ createdAt: 1700, runId: 'r1' });
    expect(() => decodeCursor('nope')).toThrow(InvalidArgumentError);
    expect(() => decodeCursor('nope')).toThrow(/nextCursor of a previous page/);
  });
  it('bounds the page size', () => {
    expect(pageLimit(undefined)).toBe(100);
    expect(pageLimit(5000)).toBe(1000);
    expect(() => pageLimit(0)).toThrow(/whole number >= 1/);
  });
});

describe('URL helpers', () => {
  it('hides passwords, parsed or not', () => {
    expect(redactUrl('postgres://u:secret@h:5432/db')).toBe('postgres://u:***@h:5432/db');
    expect(redactUrl('redis://u:se/cret@h:99999')).not.toContain('secret');
  });
  it('names the part of a server URL at fault', () => {
    expect(parseServerUrl('redis://h:6379/0', 'redis://host:6379').port).toBe('6379');
    const err = (() => {
      try {
        parseServerUrl('redis://u:pw@h:port', 'redis://host:6379');
      } catch (e) {
        return e as InvalidUrlError;
      }
    })();
    expect(err).toBeInstanceOf(InvalidUrlError);
    expect(err?.part).toBe('port');
    expect(err?.message).not.toContain(':pw@');
  });
});

describe('broker failure rules', () => {
  it('dead-letters poison at once and others after maxDeliveries', () => {
    expect(deadLetterReason(new PoisonMessageError('bad json'), 1, 5)).toBe('bad json');
    expect(deadLetterReason(new Error('x'), 4, 5)).toBeUndefined();
    expect(deadLetterReason(new Error('x'), 5, 5)).toMatch(/failed 5 times; last error: x/);
    expect([1, 2, 10].map(defaultRetryBackoffMs)).toEqual([100, 200, 5000]);
  });
});

describe('jsonLogger', () => {
  it('writes one JSON line per entry at or above its level, with bindings and child fields', () => {
    const lines: string[] = [];
    const log = jsonLogger({ level: 'info', bindings: { component: 'broker' }, write: (l) => lines.push(l) }).child({ queue: 'q' });
    log.debug('hidden');
    log.warn('redelivered', { attempt: 2 });
    expect(lines).toHaveLength(1);
    expect(lines[0].endsWith('\n')).toBe(true);
    expect(JSON.parse(lines[0])).toMatchObject({ level: 'warn', component: 'broker', queue: 'q', attempt: 2, msg: 'redelivered' });
  });
  it('keeps a line when a field cannot be serialized', () => {
    const lines: string[] = [];
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    jsonLogger({ level: 'debug', write: (l) => lines.push(l) }).error('boom', { cyclic });
    expect(JSON.parse(lines[0])).toMatchObject({ level: 'error', msg: 'boom', fields: '[unserializable]' });
  });
});
