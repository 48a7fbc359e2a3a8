import type { ChannelModel, RecoveringChannelModel } from 'amqplib';
import { ConfigError, InvalidArgumentError, parseDuration, redactUrl, type Logger } from '@durably/contracts';

/**
 * The RabbitMQ queue type of the work and delay queues: `quorum` (replicated across the cluster's
 * nodes, with RabbitMQ's own `x-delivery-limit`; the default) or `classic` (kept on one node; the
 * consumer counts redeliveries itself). Dead-letter queues are classic either way.
 */
export type QueueType = 'quorum' | 'classic';

/** An amqplib connection the caller already has: a plain one, or one made with `{ recovery }`. */
export type AmqpConnection = ChannelModel | RecoveringChannelModel;

/**
 * Options of `new RabbitMQBroker(...)`: a `url` or a `connection` (one of the two), and how queues are
 * named and behave (with neither, the constructor throws `ConfigError`). Queues are durable and
 * messages persistent, confirmed by the server, so an accepted message survives a server restart.
 *
 * @example
 * ```ts
 * import { RabbitMQBroker } from '@durably/rabbitmq';
 *
 * const broker = new RabbitMQBroker({ url: 'amqp://guest:guest@127.0.0.1:5672', prefix: 'orders' });
 * await broker.migrate();
 * ```
 */
export interface RabbitMQBrokerOptions {
  /**
   * `amqp://` or `amqps://` URL. The vhost is the path (`/` is `%2F`). Query parameters `prefix`,
   * `queueType`, `deliveryLimit`, `consumerTimeout` and `publishTimeout` are Durably's; the rest
   * (`heartbeat`, `frameMax`, `channelMax`, `locale`) go to amqplib.
   */
  url?: string;
  /**
   * An amqplib connection to use instead of a URL. `close()` closes the broker's channels (which
   * abandons its deliveries) and leaves the connection open. A plain connection is not reconnected
   * when it drops; one made with amqplib's `{ recovery }` option is, and the broker follows it.
   */
  connection?: AmqpConnection;
  /** Prefix of every exchange and queue name ([A-Za-z0-9_-], at most 64). Default "durably". */
  prefix?: string;
  /** Type of the work and delay queues. Default "quorum" (replicated, with `x-delivery-limit`). */
  queueType?: QueueType;
  /**
   * Quorum queues only: `x-delivery-limit`, the returns (deliveries whose consumer died, or was closed,
   * without settling them) after which RabbitMQ itself dead-letters a message. Default 10.
   */
  deliveryLimit?: number;
  /**
   * The server's `consumer_timeout` (default 30 min on RabbitMQ 3.10): a delivery held unacked longer
   * gets its channel closed by the server. A handler still running at half this time hands its message
   * over to a lease queue, so that it keeps it. 0 when the server has the timeout off. Default 30 min.
   */
  consumerTimeoutMs?: number;
  /** How long a publish may wait for its confirm, across reconnects, before it fails with BrokerError. Default 30 s. */
  publishTimeoutMs?: number;
  /** Delay before redelivering a message whose handler threw. Default min(100 ms x 2^(n-1), 5 s). */
  retryBackoffMs?: (deliveryCount: number) => number;
  /** Reconnect backoff: first delay and cap, in ms. Default 100 ms doubling up to 5 s, with jitter. */
  reconnect?: { initialDelayMs?: number; maxDelayMs?: number };
  /** Where reconnects, consumer-timeout hand-overs and server cancellations are logged. Default: jsonLogger() from @durably/contracts (JSON lines on stderr, level from DURABLY_LOG_LEVEL, else warn). */
  logger?: Logger;
}

export interface ResolvedOptions {
  url?: string;
  /** The URL with Durably's own parameters removed, for amqplib. */
  amqpUrl?: string;
  connection?: AmqpConnection;
  prefix: string;
  queueType: QueueType;
  deliveryLimit: number;
  consumerTimeoutMs: number;
  publishTimeoutMs: number;
  retryBackoffMs?: (deliveryCount: number) => number;
  reconnect: { initialDelayMs: number; maxDelayMs: number };
  logger?: Logger;
  /** The address shown in errors and logs (password hidden). */
  address: string;
}

const PREFIX = /^[A-Za-z0-9_-]{1,64}$/;
const OWN_PARAMS = ['prefix', 'queueType', 'deliveryLimit', 'consumerTimeout', 'publishTimeout'];

/** Reads Durably's parameters from the URL's query; explicit options win over the URL. */
export function resolveOptions(options: RabbitMQBrokerOptions): ResolvedOptions {
  if (!options.url && !options.connection) {
    throw new ConfigError('RabbitMQBroker needs a `url` (amqp://user:pass@host:5672/vhost) or an amqplib `connection`.');
  }
  const fromUrl: Partial<Record<(typeof OWN_PARAMS)[number], string>> = {};
  let amqpUrl: string | undefined;
  if (options.url) {
    let parsed: URL;
    try {
      parsed = new URL(options.url);
    } catch (err) {
      throw new ConfigError(`Invalid RabbitMQ URL "${redactUrl(options.url)}": ${(err as Error).message}`, { cause: err });
    }
    if (parsed.protocol !== 'amqp:' && parsed.protocol !== 'amqps:') {
      throw new ConfigError(`RabbitMQ URL "${redactUrl(options.url)}" must start with amqp:// or amqps://.`);
    }
    for (const name of OWN_PARAMS) {
      const value = parsed.searchParams.get(name);
      if (value !== null) fromUrl[name] = value;
      parsed.searchParams.delete(name);
    }
    // A bare "amqp://host" has the path "/", which amqplib reads as the vhost "/"; so does the empty path.
    amqpUrl = parsed.toString();
  }
  const prefix = options.prefix ?? fromUrl.prefix ?? 'durably';
  if (!PREFIX.test(prefix)) {
    throw new InvalidArgumentError(`RabbitMQ prefix ${JSON.stringify(prefix)} is invalid: use 1-64 characters of A-Z, a-z, 0-9, "_" and "-".`);
  }
  const queueType = options.queueType ?? fromUrl.queueType ?? 'quorum';
  if (queueType !== 'quorum' && queueType !== 'classic') {
    throw new InvalidArgumentError(`RabbitMQ queueType ${JSON.stringify(queueType)} is invalid: use "quorum" (the default) or "classic".`);
  }
  const deliveryLimit = options.deliveryLimit ?? (fromUrl.deliveryLimit !== undefined ? Number(fromUrl.deliveryLimit) : 10);
  if (!Number.isInteger(deliveryLimit) || deliveryLimit < 1) {
    throw new InvalidArgumentError(`RabbitMQ deliveryLimit must be a whole number >= 1, got ${JSON.stringify(fromUrl.deliveryLimit ?? options.deliveryLimit)}.`);
  }
  const duration = (value: number | string | undefined, fallback: number, field: string) => (value === undefined ? fallback : parseDuration(value, field));
  const consumerTimeoutMs = duration(options.consumerTimeoutMs ?? fromUrl.consumerTimeout, 30 * 60_000, 'RabbitMQ consumerTimeout');
  const publishTimeoutMs = duration(options.publishTimeoutMs ?? fromUrl.publishTimeout, 30_000, 'RabbitMQ publishTimeout');
  if (publishTimeoutMs <= 0) throw new InvalidArgumentError('RabbitMQ publishTimeout must be more than 0.');
  const initialDelayMs = options.reconnect?.initialDelayMs ?? 100;
  const maxDelayMs = options.reconnect?.maxDelayMs ?? 5000;
  if (!(initialDelayMs >= 0) || !(maxDelayMs >= initialDelayMs)) {
    throw new InvalidArgumentError(`RabbitMQ reconnect delays must satisfy 0 <= initialDelayMs <= maxDelayMs, got ${initialDelayMs} and ${maxDelayMs}.`);
  }
  return {
    url: options.url,
    amqpUrl,
    connection: options.connection,
    prefix,
    queueType,
    deliveryLimit,
    consumerTimeoutMs,
    publishTimeoutMs,
    retryBackoffMs: options.retryBackoffMs,
    reconnect: { initialDelayMs, maxDelayMs },
    logger: options.logger,
    address: options.url ? redactUrl(options.url) : 'the amqplib connection passed in options.connection',
  };
}

