import { describe, expect, it } from 'vitest';
import {
  ATTRIBUTE_LIMITS,
  InvalidAttributeError,
  attributeFromIndexValue,
  attributeIndexValue,
  attributesMatch,
  checkAttributeFilter,
  checkAttributePatch,
  combineAttributePatches,
  errorToObject,
  mergeAttributes,
  objectToError,
  sameAttributePatch,
} from '@durably/contracts';

function refusal(fn: () => unknown): InvalidAttributeError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidAttributeError);
    return err as InvalidAttributeError;
  }
  throw new Error('expected InvalidAttributeError');
}

describe('search attributes', () => {
  it('accepts strings, finite numbers, booleans, and null to remove a key', () => {
    expect(checkAttributePatch({ customer: 'c-42', amount: 120.5, vip: false, _old: null, 'a.b-c': -0 }, 'setAttributes()')).toEqual({ customer: 'c-42', amount: 120.5, vip: false, _old: null, 'a.b-c': 0 });
    expect(Object.is(checkAttributePatch({ z: -0 }, 'x').z, 0)).toBe(true);
    expect(checkAttributeFilter({ customer: 'c-42' }, 'listRuns()')).toEqual({ customer: 'c-42' });
  });

  it('refuses each broken rule with the key and the limit', () => {
    const badKey = refusal(() => checkAttributePatch({ '9lives': 1 }, 'setAttributes()'));
    expect([badKey.key, badKey.limit]).toEqual(['9lives', 'key']);
    expect(badKey.message).toContain('"9lives" is invalid');
    expect(refusal(() => checkAttributePatch({ ['k'.repeat(ATTRIBUTE_LIMITS.maxKeyLength + 1)]: 1 }, 'x')).limit).toBe('key');
    expect(() => checkAttributePatch({ ['k'.repeat(ATTRIBUTE_LIMITS.maxKeyLength)]: 1 }, 'x')).not.toThrow();
    const long = refusal(() => checkAttributePatch({ note: 'x'.repeat(ATTRIBUTE_LIMITS.maxStringLength + 1) }, 'setAttributes()'));
    expect([long.key, long.limit]).toEqual(['note', 'string length']);
    expect(long.message).toContain(String(ATTRIBUTE_LIMITS.maxStringLength));
    const date = refusal(() => checkAttributePatch({ when: new Date() }, 'setAttributes()'));
    expect([date.key, date.limit]).toEqual(['when', 'value type']);
    expect(date.message).toContain('date.getTime()');
    for (const value of [Number.NaN, Number.POSITIVE_INFINITY, { a: 1 }, [1], undefined, 10n]) {
      expect(refusal(() => checkAttributePatch({ v: value }, 'x')).limit).toBe('value type');
    }
    // A filter matches values: null is no value.
    expect(refusal(() => checkAttributeFilter({ v: null }, 'listRuns()')).limit).toBe('value type');
    expect(refusal(() => checkAttributePatch([1], 'x')).message).toContain('plain object');
    const many = Object.fromEntries(Array.from({ length: ATTRIBUTE_LIMITS.maxPerRun + 1 }, (_, i) => [`k${i}`, i]));
    expect(refusal(() => checkAttributePatch(many, 'x')).limit).toBe('count');
  });

  it('merges patches and refuses an attribute past the per-run limit, naming it', () => {
    expect(mergeAttributes({ a: 1, b: 'x' }, { b: null, c: true })).toEqual({ a: 1, c: true });
    const full = Object.fromEntries(Array.from({ length: ATTRIBUTE_LIMITS.maxPerRun }, (_, i) => [`k${i}`, i]));
    expect(mergeAttributes(full, { k0: 'changed', k1: null })).toMatchObject({ k0: 'changed' });
    const over = refusal(() => mergeAttributes(full, { extra: 1 }));
    expect([over.key, over.limit]).toEqual(['extra', 'count']);
    expect(combineAttributePatches([])).toBeUndefined();
    expect(combineAttributePatches([{ a: 1, b: 2 }, { b: null, c: 3 }])).toEqual({ a: 1, b: null, c: 3 });
  });

  it('compares patches by key, value and type, as a replay does', () => {
    expect(sameAttributePatch({ a: 1, b: null }, { b: null, a: 1 })).toBe(true);
    expect(sameAttributePatch({ a: 1 }, { a: '1' })).toBe(false);
    expect(sameAttributePatch({ a: 1 }, { a: 1, b: 2 })).toBe(false);
    expect(sameAttributePatch({ a: null }, { b: null })).toBe(false);
  });

  it('encodes typed index values losslessly, so 1, "1" and true never collide', () => {
    const values = [1, '1', true, 'true', 0, false, '', 0.1 + 0.2, -1e-300, 1e21, 'n:1'];
    const encoded = values.map(attributeIndexValue);
    expect(new Set(encoded).size).toBe(values.length);
    for (const v of values) expect(attributeFromIndexValue(attributeIndexValue(v))).toBe(v);
    expect(attributesMatch({ a: 1, b: 'x' }, { a: 1 })).toBe(true);
    expect(attributesMatch({ a: 1 }, { a: '1' })).toBe(false);
    expect(attributesMatch(undefined, { a: 1 })).toBe(false);
    expect(attributesMatch(undefined, undefined)).toBe(true);
  });

  it('survives the log: InvalidAttributeError is rebuilt with its class', () => {
    const error = new InvalidAttributeError('note', 'string length', 'too long');
    const back = objectToError(JSON.parse(JSON.stringify(errorToObject(error))));
    expect(back).toBeInstanceOf(InvalidAttributeError);
    expect([(back as InvalidAttributeError).key, (back as InvalidAttributeError).limit, (back as Error).message]).toEqual(['note', 'string length', 'too long']);
  });
});
