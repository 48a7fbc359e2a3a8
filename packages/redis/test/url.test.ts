import { expect, it } from 'vitest';
import { ConfigError, connect } from '@durably/core';
import { optionsFromUrl } from '../src/index.js';

it('names the part of a bad redis:// URL in a ConfigError, password hidden', async () => {
  const error = await connect({ storage: 'redis://:secret@localhost:63a9/0', broker: 'memory:', connectTimeout: 0 }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(ConfigError);
  expect(error).toMatchObject({ part: 'port', url: 'redis://:***@localhost:63a9/0' });
  expect((error as Error).message).toContain('redis://user:password@host:6379/0?prefix=durably');
  expect((error as Error).message).not.toContain('secret');
  expect(() => optionsFromUrl('redis://:6379')).toThrow(expect.objectContaining({ part: 'host' }));
  expect(optionsFromUrl('redis://h:6380/2?prefix=app')).toEqual({ url: 'redis://h:6380/2', prefix: 'app' });
});
