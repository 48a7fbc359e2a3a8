import { expect, it } from 'vitest';
import { ConfigError, connect } from '@durably/core';
import { optionsFromUrl, parseClusterUrl } from '../src/index.js';

it('names the part of a bad redis:// URL in a ConfigError, password hidden', async () => {
  const error = await connect({ storage: 'redis://:secret@localhost:63a9/0', broker: 'memory:', connectTimeout: 0 }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(ConfigError);
  expect(error).toMatchObject({ part: 'port', url: 'redis://:***@localhost:63a9/0' });
  expect((error as Error).message).toContain('redis://user:password@host:6379/0?prefix=durably');
  expect((error as Error).message).not.toContain('secret');
  expect(() => optionsFromUrl('redis://:6379')).toThrow(expect.objectContaining({ part: 'host' }));
  expect(optionsFromUrl('redis://h:6380/2?prefix=app')).toEqual({ url: 'redis://h:6380/2', prefix: 'app' });
});

it('reads redis+cluster:// as the seed nodes of a Redis Cluster, and names the part of a bad one, password hidden', async () => {
  expect(optionsFromUrl('redis+cluster://127.0.0.1:7000,127.0.0.1:7001?prefix=app&buckets=8')).toEqual({ url: 'redis+cluster://127.0.0.1:7000,127.0.0.1:7001?prefix=app&buckets=8', prefix: 'app', cluster: true, buckets: 8 });
  expect(parseClusterUrl('rediss+cluster://u:p%40ss@a:7000,[::1]:7001/0').map((u) => [u.protocol, u.hostname, u.port, u.password])).toEqual([
    ['rediss:', 'a', '7000', 'p%40ss'],
    ['rediss:', '[::1]', '7001', 'p%40ss'],
  ]);
  expect(() => optionsFromUrl('redis+cluster://a:7000/2')).toThrow(expect.objectContaining({ part: 'path' }));
  expect(() => optionsFromUrl('redis+cluster://a:7000,,b:7001')).toThrow(expect.objectContaining({ part: 'host' }));
  expect(() => optionsFromUrl('redis+cluster://a:70x0')).toThrow(expect.objectContaining({ part: 'port' }));
  expect(() => optionsFromUrl('redis+cluster://a:7000?buckets=many')).toThrow(expect.objectContaining({ part: 'query' }));
  // The adapter is found by its scheme; a bad URL fails as a ConfigError before any connection.
  const error = await connect({ storage: 'redis+cluster://:secret@a:7000,b:x', broker: 'memory:', connectTimeout: 0 }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(ConfigError);
  expect((error as Error).message).not.toContain('secret');
});
