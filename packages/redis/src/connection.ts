import { Cluster, Redis } from 'ioredis';
import { InvalidArgumentError, InvalidUrlError, parseServerUrl, redactUrl } from '@durably/contracts';

/** A single Redis or a Redis Cluster client: the commands Durably sends are the same. */
export type RedisClient = Redis | Cluster;

/**
 * How RedisStorage and RedisBroker reach Redis: a `url`, or an ioredis client of yours (with neither,
 * `InvalidArgumentError`). Every key starts with `{prefix}` (single Redis) or a tag derived from it
 * (Redis Cluster, see KeyLayout), so one Redis holds several apps under different prefixes.
 */
export interface RedisConnectionOptions {
  /**
   * `redis://host:6379/0` (or `rediss://`); a Redis Cluster: `redis+cluster://host1:7000,host2:7001`
   * (or `rediss+cluster://`), any of its nodes as seeds. Ignored when `redis` is given.
   */
  url?: string;
  /** An ioredis client (`Redis` or `Cluster`) you already have; close() leaves it open. */
  redis?: RedisClient;
  /** Key prefix (letters, digits, "_", "-", "."), also the hash tag of every key on a single Redis (a cluster derives its tags from it). Default "durably". */
  prefix?: string;
  /** Treat `url` (`redis://` of one node) as a seed of a Redis Cluster. Implied by `redis+cluster://` and a lent `Cluster`. */
  cluster?: boolean;
  /**
   * On a Redis Cluster, the buckets runs are spread over (default 16; see KeyLayout). Fixed for the
   * life of a prefix: migrate() records it and refuses a different number.
   */
  buckets?: number;
}

/** `{prefix}`: the braces make it the hash tag; on a single Redis every key of a prefix starts with it (a cluster spreads them, see KeyLayout). */
export function keyPrefix(prefix = 'durably'): string {
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(prefix)) {
    throw new InvalidArgumentError(`Redis key prefix ${JSON.stringify(prefix)} is invalid: use 1-64 letters, digits, "_", "-" and ".".`);
  }
  return `{${prefix}}`;
}

/** An ioredis client with what error messages need: the address it talks to and its last connection error. */
export interface RedisConnection {
  redis: RedisClient;
  /** true for a Redis Cluster client. */
  clustered: boolean;
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
  let redis: RedisClient;
  let owned: boolean;
  let address: string;
  let endpoint: string;
  if (options.redis) {
    redis = options.redis;
    owned = false;
    address = 'the given ioredis client';
  } else {
    if (!options.url) throw new InvalidArgumentError('Redis adapter: give a URL (url) or an ioredis client (redis).');
    const seeds = isClusterUrl(options.url) ? parseClusterUrl(options.url) : options.cluster ? [parseRedisUrl(options.url)] : undefined;
    if (seeds) {
      redis = openCluster(seeds);
    } else {
      parseRedisUrl(options.url);
      // Commands wait for a reconnect (up to 10 retries, about 3 s) instead of failing at once while the server restarts.
      // Auto-pipelining sends the commands issued in one tick in one write: many concurrent runs, few syscalls.
      redis = new Redis(options.url, { maxRetriesPerRequest: 10, enableOfflineQueue: true, enableAutoPipelining: true });
    }
    owned = true;
    address = redactUrl(options.url);
  }
  if (isCluster(redis)) {
    // The seed nodes as given (ioredis keeps them in a private field); a lent cluster is named by its known nodes.
    const seeds = options.redis ? redis.nodes('all').map((n) => `${n.options.host}:${n.options.port}`) : parseClusterSeeds(options.url!);
    endpoint = seeds.join(',') || 'the Redis Cluster';
  } else {
    const o = redis.options;
    endpoint = o.path ? o.path : `${o.host ?? 'localhost'}:${o.port ?? 6379}`;
  }
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
  return { redis, clustered: isCluster(redis), owned, endpoint, address, describe };
}

function parseClusterSeeds(url: string): string[] {
  const seeds = isClusterUrl(url) ? parseClusterUrl(url) : [parseRedisUrl(url)];
  return seeds.map((u) => `${u.hostname}:${u.port || 6379}`);
}

export function isCluster(redis: RedisClient): redis is Cluster {
  return (redis as Cluster).isCluster === true;
}

/** A Cluster client on these seed nodes, with the single client's retry settings (no auto-pipelining); the first seed's user, password and TLS apply to every node. */
function openCluster(seeds: URL[]): Cluster {
  const first = seeds[0];
  const tls = first.protocol.startsWith('rediss');
  return new Cluster(
    seeds.map((u) => ({ host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port || 6379) })),
    {
      // No auto-pipelining on a cluster: ioredis batches a tick's commands per node, and a MOVED answer
      // (a slot map not yet converged after a start, a failover or a resharding) fails the batch's
      // commands instead of following the redirection (redis/ioredis#2075). Each command on its own
      // follows MOVED/ASK and retries; explicit pipelines here stay within one hash tag.
      enableAutoPipelining: false,
      enableOfflineQueue: true,
      // A failover or resharding answers MOVED/TRYAGAIN/CLUSTERDOWN for a moment: commands wait and follow it.
      maxRedirections: 32,
      retryDelayOnFailover: 200,
      retryDelayOnClusterDown: 200,
      retryDelayOnTryAgain: 200,
      redisOptions: {
        maxRetriesPerRequest: 10,
        ...(first.username ? { username: decodeURIComponent(first.username) } : {}),
        ...(first.password ? { password: decodeURIComponent(first.password) } : {}),
        ...(tls ? { tls: {} } : {}),
      },
    },
  );
}

export const REDIS_CLUSTER_URL_EXAMPLE = 'redis+cluster://user:password@host1:7000,host2:7001?prefix=durably';

export function isClusterUrl(url: string): boolean {
  return /^rediss?\+cluster:/i.test(url);
}

/**
 * The seed nodes of `redis+cluster://[user:password@]host1:port1,host2:port2[/0][?prefix=...]`, each
 * as the URL of one node (`redis://` or `rediss://`, with the user and password); InvalidUrlError
 * names the part at fault. A cluster has database 0 only.
 */
export function parseClusterUrl(url: string): URL[] {
  const m = /^(rediss?)\+cluster:\/\/(?:([^@/?#]*)@)?([^/?#]*)([^?#]*)(\?[^#]*)?$/i.exec(url);
  if (!m) throw new InvalidUrlError(redactUrl(url), 'url', 'a cluster URL is redis+cluster:// then the nodes as host:port separated by commas', REDIS_CLUSTER_URL_EXAMPLE);
  const [, scheme, userinfo, hosts, path, query] = m;
  if (path !== '' && path !== '/' && path !== '/0') {
    throw new InvalidUrlError(redactUrl(url), 'path', `a Redis Cluster has database 0 only, not "${decodeURIComponent(path.slice(1))}"`, REDIS_CLUSTER_URL_EXAMPLE);
  }
  const nodes = hosts.split(',');
  if (nodes.some((n) => n.trim() === '')) throw new InvalidUrlError(redactUrl(url), 'host', 'give the nodes as host:port separated by commas, none empty', REDIS_CLUSTER_URL_EXAMPLE);
  return nodes.map((node) => parseServerUrl(`${scheme.toLowerCase()}://${userinfo !== undefined ? `${userinfo}@` : ''}${node}${query ?? ''}`, REDIS_CLUSTER_URL_EXAMPLE));
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

/**
 * Parses `redis://host:port/db?prefix=name` or `redis+cluster://host1:port1,host2:port2?prefix=name&buckets=16`;
 * a URL that cannot be parsed throws InvalidUrlError naming the part at fault.
 */
export function optionsFromUrl(url: string): RedisConnectionOptions {
  if (isClusterUrl(url)) {
    const seeds = parseClusterUrl(url);
    const params = seeds[0].searchParams;
    const prefix = params.get('prefix') ?? undefined;
    const raw = params.get('buckets');
    if (raw !== null && !/^\d{1,4}$/.test(raw)) throw new InvalidUrlError(redactUrl(url), 'query', `buckets "${raw}" is not a whole number`, REDIS_CLUSTER_URL_EXAMPLE);
    // The URL goes to the client as given: it reads only the nodes, the user and the password.
    return { url, prefix, cluster: true, ...(raw !== null ? { buckets: Number(raw) } : {}) };
  }
  const u = parseRedisUrl(url);
  const prefix = u.searchParams.get('prefix') ?? undefined;
  u.searchParams.delete('prefix');
  return { url: u.toString(), prefix };
}
