import { expect, it } from 'vitest';
import { ConfigError, InvalidUrlError, connect } from '@durably/core';
import { optionsFromUrl } from '../src/index.js';

it('names the part of a bad postgres:// URL in a ConfigError, password hidden', async () => {
  const error = await connect({ storage: 'postgres://u:pw@:notaport/db', broker: 'memory:', connectTimeout: 0 }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(ConfigError);
  expect(error).toBeInstanceOf(InvalidUrlError);
  expect(error).toMatchObject({ code: 'CONFIG', part: 'port', url: 'postgres://u:***@:notaport/db' });
  expect((error as Error).message).toContain('the port "notaport" is not a number');
  expect((error as Error).message).toContain('postgres://user:password@host:5432/database');
  expect((error as Error).message).not.toContain('pw');
  expect(() => optionsFromUrl('postgres:///db')).not.toThrow(); // no host: pg's default (a local socket)
  expect(() => optionsFromUrl('postgres://h:70000/db')).toThrow(expect.objectContaining({ part: 'port' }));
  expect(() => optionsFromUrl('postgres://:5432/db')).toThrow(expect.objectContaining({ part: 'host' }));
  expect(() => optionsFromUrl('postgres://h/db?max=lots')).toThrow(expect.objectContaining({ part: 'query' }));
  expect(optionsFromUrl('postgres://u:pw@h:5433/db?schema=app&max=4&sslmode=disable')).toEqual({ url: 'postgres://u:pw@h:5433/db?sslmode=disable', schema: 'app', max: 4 });
});
