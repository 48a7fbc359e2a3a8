import { Redis } from 'ioredis';
import { InvalidArgumentError, InvalidUrlError, parseServerUrl, redactUrl } from '@durably/contracts';

/**
 * How RedisStorage and RedisBroker reach Redis: a `url`, or an ioredis client of yours (with neither,
 * `InvalidArgumentError`). Every key starts with `{prefix}`, so one Redis holds several apps under
 * different prefixes, and in a cluster all of one app's keys share a slot (the braces are a hash tag).
 */
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

/** An ioredis client with what error messages need: the address it talks to and its last connection error. */
export interface RedisConnection {
  redis: Redis;
  /** false when the user lent the client: close() leaves it open. */
  owned: boolean;
  /** host:port (or the socket path) the client connects to. */
  endpoint: string;
  /** The URL with its password hidden, or a description of the lent client. */
  address: string;
  /** Explains a failed command: the address, the cause (the last connection error when it was one), and what to check. */
  describe(what: string, err: unknown): string;
}

const UNREACHABLE = /ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ECONNRESET|max retries per request|Connection is closed|Stream isn't writeable/i;
const AUTH = /NOAUTH|WRONGPASS|invalid password|invalid username-password/i;

export function openRedis(options: RedisConnectionOptions): RedisConnection {
  let redis: Redis;
  let owned: boolean;
  let address: string;
  if (options.redis) {
    redis = options.redis;
    owned = false;
    address = 'the given ioredis client';
  } else {
    if (!options.url) throw new InvalidArgumentError('Redis adapter: give a URL (url) or an ioredis client (redis).');
    parseRedisUrl(options.url);
    // Commands wait for a reconnect (up to 10 retries, about 3 s) instead of failing at once while the server restarts.
    // Auto-pipelining sends the commands issued in one tick in one write: many concurrent runs, few syscalls.
    redis = new Redis(options.url, { maxRetriesPerRequest: 10, enableOfflineQueue: true, enableAutoPipelining: true });
    owned = true;
    address = redactUrl(options.url);
  }
  const o = redis.options;
  const endpoint = o.path ? o.path : `${o.host ?? 'localhost'}:${o.port ?? 6379}`;
  // ioredis reports connection failures as 'error' events and fails the command with its own words
  // ("Reached the max retries per request limit"); the last event is the cause worth showing.
  let lastError: Error | undefined;
  redis.on('error', (err: Error) => (lastError = err));
  redis.on('ready', () => (lastError = undefined));
  const describe = (what: string, err: unknown): string => {
    const message = (err as Error)?.message ?? String(err);
    const connection = lastError?.message;
    // ioredis's "Reached the max retries per request limit" only says that it gave up: the connection error says why.
    const cause = connection && /max retries per request/i.test(message) ? connection : connection && connection !== message ? `${message} (last connection error: ${connection})` : message;
    if (AUTH.test(cause)) return `Redis at ${endpoint} (${address}) refused the credentials to ${what}: ${cause}. Check the user and password in the URL (redis://user:password@host:6379).`;
    if (UNREACHABLE.test(cause)) {
      return `Redis at ${endpoint} (${address}) is unreachable; could not ${what}: ${cause}. Check that the server runs and that the host and port are right (${REDIS_URL_EXAMPLE}).`;
    }
    return `Redis at ${endpoint} (${address}) failed to ${what}: ${cause}`;
  };
  return { redis, owned, endpoint, address, describe };
}

export const REDIS_URL_EXAMPLE = 'redis://user:password@host:6379/0?prefix=durably';

/**
 * Parses a Redis URL (InvalidUrlError naming the part at fault). The path is the database index:
 * ioredis reads a path that is not a number ("/abc") as no database at all, and would use database 0.
 */
function parseRedisUrl(url: string): URL {
  const u = parseServerUrl(url, REDIS_URL_EXAMPLE);
  const db = u.pathname.replace(/^\//, '');
  if (db !== '' && !/^\d{1,5}$/.test(db)) {
    throw new InvalidUrlError(redactUrl(url), 'path', `the database "${decodeURIComponent(db)}" is not a number (the path is the database index, such as /0)`, REDIS_URL_EXAMPLE);
  }
  return u;
}

/** Parses `redis://host:port/db?prefix=name`; a URL that cannot be parsed throws InvalidUrlError naming the part at fault. */
export function optionsFromUrl(url: string): RedisConnectionOptions {
  const u = parseRedisUrl(url);
  const prefix = u.searchParams.get('prefix') ?? undefined;
  u.searchParams.delete('prefix');
  return { url: u.toString(), prefix };
}
