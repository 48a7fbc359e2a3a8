import { describe, expect, it } from 'vitest';
import { aesGcmCodec, serialize } from '@durably/core';
import { readable } from '../src/commands/timeline.js';

describe('readable', () => {
  it('shows a value in clear as itself, and an encrypted one read without its key as "encrypted (key ... missing)"', () => {
    expect(readable(serialize({ n: 1 }))).toEqual({ n: 1 });
    const sealed = aesGcmCodec({ keys: { k7: Buffer.alloc(32, 3) } }).encode(serialize({ n: 1 })) as string;
    expect(readable(sealed)).toBe('[encrypted (key "k7" missing)]');
  });
});
