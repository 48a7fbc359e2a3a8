import { Redis } from 'ioredis';
import { InvalidArgumentError } from '@durably/core';

export interface RedisConnectionOptions {
  /** `redis://host:6379/0` (or `rediss://`). Ignored when `redis` is given. */
  url?: string;
  /** An ioredis client you already have; close() leaves it open. */
  redis?: Redis;
  /** Key prefix (letters, digits, "_", "-", "."), also the hash tag of every key. Default "durably". */
  prefix?: string;
}

/** `{prefix}`: the braces make it the hash tag, so all of Durably's keys of one prefix share a cluster slot. */
export function keyPrefix(prefix = 'durably'): string {
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(prefix)) {
    throw new InvalidArgumentError(`Redis key prefix ${JSON.stringify(prefix)} is invalid: use 1-64 letters, digits, "_", "-" and ".".`);
  }
  return `{${prefix}}`;
}

export function openRedis(options: RedisConnectionOptions): { redis: Redis; owned: boolean } {
  if (options.redis) return { redis: options.redis, owned: false };
  if (!options.url) throw new InvalidArgumentError('Redis adapter: give a URL (url) or an ioredis client (redis).');
  // Commands wait for a reconnect (up to 10 retries) instead of failing at once while the server restarts.
  // Auto-pipelining sends the commands issued in one tick in one write: many concurrent runs, few syscalls.
  const redis = new Redis(options.url, { maxRetriesPerRequest: 10, enableOfflineQueue: true, enableAutoPipelining: true });
  redis.on('error', () => undefined);
  return { redis, owned: true };
}

/** Parses `redis://host:port/db?prefix=name`. */
export function optionsFromUrl(url: string): RedisConnectionOptions {
  const u = new URL(url);
  const prefix = u.searchParams.get('prefix') ?? undefined;
  u.searchParams.delete('prefix');
  return { url: u.toString(), prefix };
}
