import { describe, expect, it } from 'vitest';
import {
  CancelledError,
  FatalError,
  InvalidDurationError,
  NonDeterminismError,
  RetryableError,
  SerializationError,
  StepFailedError,
  WorkflowFailedError,
  deserialize,
  durationMs,
  errorToObject,
  objectToError,
  parseDuration,
  serialize,
} from '@durably/contracts';

describe('durations', () => {
  it('parses ms-style strings and numbers', () => {
    expect(parseDuration('1d', 'x')).toBe(86_400_000);
    expect(parseDuration('30s', 'x')).toBe(30_000);
    expect(parseDuration(250, 'x')).toBe(250);
  });
  it('rejects bad durations naming the field', () => {
    expect(() => parseDuration('soon', 'sleep()')).toThrow(InvalidDurationError);
    expect(() => parseDuration('soon', 'sleep()')).toThrow(/sleep\(\).*"soon"/);
    expect(() => parseDuration(-1, 'timeout')).toThrow(/timeout/);
  });
});

describe('serialization', () => {
  it('round-trips rich values', () => {
    const err = new RangeError('out');
    const value = { d: new Date(0), m: new Map([[1, 'a']]), s: new Set([1]), b: 10n, u: new Uint8Array([7]), err, n: undefined };
    const back = deserialize<typeof value>(serialize(value));
    expect(back.d.getTime()).toBe(0);
    expect(back.m.get(1)).toBe('a');
    expect(back.s.has(1)).toBe(true);
    expect(back.b).toBe(10n);
    expect(back.u[0]).toBe(7);
    expect(back.err).toBeInstanceOf(RangeError);
    expect(back.err.message).toBe('out');
    expect('n' in back).toBe(true);
  });
  it('rebuilds Durably errors as their class with their fields, and keeps other errors plain', () => {
    const stored = JSON.parse(JSON.stringify(errorToObject(new WorkflowFailedError('r1', new StepFailedError('pay', 3, new NonDeterminismError('4', 'step "a"', 'step "b"'))))));
    const back = objectToError(stored);
    expect(back).toBeInstanceOf(WorkflowFailedError);
    expect(back).toBeInstanceOf(Error);
    expect(back).toMatchObject({ name: 'WorkflowFailedError', code: 'WORKFLOW_FAILED', runId: 'r1' });
    const step = back.cause as StepFailedError;
    expect(step).toBeInstanceOf(StepFailedError);
    expect(step).toMatchObject({ stepName: 'pay', attempts: 3 });
    expect(step.cause).toBeInstanceOf(NonDeterminismError);
    expect(step.cause).toMatchObject({ position: '4', recorded: 'step "a"', current: 'step "b"' });
    // A user's subclass comes back as the Durably class it extends, under its own name.
    class CardDeclined extends FatalError {
      constructor(readonly last4: string) {
        super('card declined');
      }
    }
    const declined = objectToError(errorToObject(new CardDeclined('4242')));
    expect(declined).toBeInstanceOf(FatalError);
    expect(declined).toMatchObject({ name: 'CardDeclined', code: 'FATAL', last4: '4242' });
    // Errors of other classes keep name, message, stack and code, and none of their other fields.
    const system = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED', config: { password: 'secret' } });
    const plain = objectToError(errorToObject(system));
    expect(Object.getPrototypeOf(plain)).toBe(Error.prototype);
    expect(plain).toMatchObject({ name: 'Error', message: 'connect ECONNREFUSED', code: 'ECONNREFUSED' });
    expect(plain.stack).toBe(system.stack);
    expect('config' in plain).toBe(false);
    expect(JSON.stringify(errorToObject(system))).not.toContain('secret');
    expect(objectToError(errorToObject(new TypeError('t')))).toBeInstanceOf(TypeError);
    expect(deserialize<{ e: CancelledError }>(serialize({ e: new CancelledError('why') })).e).toMatchObject({ reason: 'why' });
  });
  it('rejects functions with a clear error', () => {
    expect(() => serialize({ f: () => 1 }, 'the arguments')).toThrow(SerializationError);
    expect(() => serialize({ f: () => 1 }, 'the arguments')).toThrow(/the arguments/);
  });
});

describe('durations without a cycle', () => {
  it('durationMs is the rule parseDuration and RetryableError share', () => {
    expect(durationMs('2s')).toBe(2000);
    expect(durationMs(-1)).toBeUndefined();
    expect(durationMs('soon')).toBeUndefined();
    expect(durationMs({})).toBeUndefined();
    expect(new RetryableError('x', { retryAfter: '2s' }).retryAfterMs).toBe(2000);
    expect(() => new RetryableError('x', { retryAfter: 'later' })).toThrow(InvalidDurationError);
    expect(() => new RetryableError('x', { retryAfter: 'later' })).toThrow(/retryAfter.*"later"/);
  });
});
