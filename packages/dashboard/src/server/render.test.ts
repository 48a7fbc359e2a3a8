import { aesGcmCodec, serialize } from '@durably/core';
import { describe, expect, it } from 'vitest';
import { renderSerialized, renderValue } from './render.js';

describe('renderSerialized', () => {
  it('shows an encrypted value read without its key as unreadable, naming the key', () => {
    const sealed = aesGcmCodec({ keys: { k1: Buffer.alloc(32, 1) } }).encode(serialize({ card: '4242' })) as string;
    const shown = renderSerialized(sealed);
    expect(shown).toMatchObject({ type: 'unreadable' });
    expect((shown as { reason: string }).reason).toMatch(/encrypted \(aes256gcm, key "k1"\) and this process has no payload codec/);
  });


  it('says what each value is, keeping what JSON would lose', () => {
    const value = {
      when: new Date('2024-05-01T10:00:00Z'),
      big: 12n,
      nan: NaN,
      negZero: -0,
      missing: undefined,
      tags: new Set(['a']),
      totals: new Map([['eur', 1]]),
      bytes: new Uint8Array([1, 2, 255]),
      re: /x+/g,
    };
    const rendered = renderSerialized(serialize(value));
    expect(rendered).toEqual({
      type: 'object',
      entries: [
        ['when', { type: 'date', value: '2024-05-01T10:00:00.000Z' }],
        ['big', { type: 'bigint', value: '12' }],
        ['nan', { type: 'number', value: 'NaN' }],
        ['negZero', { type: 'number', value: '-0' }],
        ['missing', { type: 'undefined' }],
        ['tags', { type: 'set', items: [{ type: 'string', value: 'a' }] }],
        ['totals', { type: 'map', entries: [[{ type: 'string', value: 'eur' }, { type: 'number', value: '1' }]] }],
        ['bytes', { type: 'bytes', kind: 'Uint8Array', length: 3, hex: '0102ff' }],
        ['re', { type: 'regexp', value: '/x+/g' }],
      ],
    });
  });

  it('renders errors with stack and cause, and repeated references once', () => {
    const err = new Error('outer', { cause: new TypeError('inner') });
    const shared = { n: 1 };
    const out = renderSerialized(serialize({ err, a: shared, b: shared }));
    expect(out.type).toBe('object');
    const entries = (out as { entries: Array<[string, any]> }).entries;
    expect(entries[0][1]).toMatchObject({ type: 'error', error: { name: 'Error', message: 'outer', cause: { name: 'TypeError', message: 'inner' } } });
    expect(entries[0][1].error.stack).toContain('outer');
    expect(entries[2][1]).toEqual({ type: 'ref', path: '$.a' });
  });

  it('cuts long strings and long collections, saying by how much', () => {
    const out = renderValue({ s: 'x'.repeat(20_000), list: Array.from({ length: 250 }, (_, i) => i) }) as { entries: Array<[string, any]> };
    expect(out.entries[0][1]).toMatchObject({ type: 'string', truncated: 20_000 });
    expect(out.entries[0][1].value).toHaveLength(10_000);
    expect(out.entries[1][1].items).toHaveLength(200);
    expect(out.entries[1][1].more).toBe(50);
  });

  it('shows text that is not devalue as unreadable instead of failing the page', () => {
    expect(renderSerialized('not devalue')).toMatchObject({ type: 'unreadable', raw: 'not devalue' });
    expect(renderSerialized(undefined)).toEqual({ type: 'undefined' });
  });
});
