import { randomUUID } from 'node:crypto';
import { BrokerError, deadLetterReason, defaultRetryBackoffMs, type Broker, type ConsumeOptions, type DeadLetter, type Delivery, type MessageHandler, type PublishOptions, type Subscription } from '@durably/contracts';
import { openRedis, type RedisClient, type RedisConnection, type RedisConnectionOptions } from './connection.js';
import { KeyLayout } from './layout.js';

/**
 * Options of `new RedisBroker(...)`: the connection (see {@link RedisConnectionOptions}) plus the
 * retry backoff. Storage and broker may share one Redis and prefix.
 */
export interface RedisBrokerOptions extends RedisConnectionOptions {
  /** Delay before redelivering a message whose handler threw. Default min(100 ms x 2^(n-1), 5 s). */
  retryBackoffMs?: (deliveryCount: number) => number;
}

const GROUP = 'durably';

/** KEYS: stream, delayed zset, dedup key (unused when dk is ''). ARGV: id, body, dc, dk, dueAt (0 = now), dedupTtlMs. */
const PUBLISH = `
if ARGV[4] ~= '' then
  if not redis.call('SET', KEYS[3], '1', 'NX', 'PX', ARGV[6]) then return 0 end
end
if tonumber(ARGV[5]) > 0 then
  redis.call('ZADD', KEYS[2], ARGV[5], cjson.encode({ id = ARGV[1], body = ARGV[2], dc = tonumber(ARGV[3]), dk = ARGV[4] }))
else
  redis.call('XADD', KEYS[1], '*', 'id', ARGV[1], 'body', ARGV[2], 'dc', ARGV[3], 'dk', ARGV[4])
end
return 1
`;

/** Moves due delayed messages into the stream, atomically. KEYS: stream, delayed zset. ARGV: now. Returns ms to the next due one, or -1. */
const MOVE_DUE = `
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, 500)
for _, raw in ipairs(due) do
  local m = cjson.decode(raw)
  redis.call('XADD', KEYS[1], '*', 'id', m.id, 'body', m.body, 'dc', tostring(m.dc), 'dk', m.dk)
  redis.call('ZREM', KEYS[2], raw)
end
local next = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
if #next == 0 then return -1 end
return math.max(0, tonumber(next[2]) - tonumber(ARGV[1]))
`;

/**
 * Takes an entry out of the stream and, unless it goes to the dead-letter stream, puts it back
 * (delayed) with its delivery count raised: retries and reclaimed entries of dead consumers.
 * KEYS: stream, delayed zset, dlq stream. ARGV: entryId, id, body, dc, dueAt, reason ('' = requeue), now.
 */
const REQUEUE = `
redis.call('XACK', KEYS[1], '${GROUP}', ARGV[1])
redis.call('XDEL', KEYS[1], ARGV[1])
if ARGV[6] ~= '' then
  redis.call('XADD', KEYS[3], '*', 'id', ARGV[2], 'body', ARGV[3], 'dc', ARGV[4], 'reason', ARGV[6], 'at', ARGV[7])
elseif tonumber(ARGV[5]) > tonumber(ARGV[7]) then
  redis.call('ZADD', KEYS[2], ARGV[5], cjson.encode({ id = ARGV[2], body = ARGV[3], dc = tonumber(ARGV[4]), dk = '' }))
else
  redis.call('XADD', KEYS[1], '*', 'id', ARGV[2], 'body', ARGV[3], 'dc', ARGV[4], 'dk', '')
end
return 1
`;

type Scripted = RedisClient & {
  durablyPublish(...args: (string | number)[]): Promise<number>;
  durablyMoveDue(...args: (string | number)[]): Promise<number>;
  durablyRequeue(...args: (string | number)[]): Promise<number>;
};

/**
 * A Redis Streams broker: one stream per queue with the consumer group "durably". Consumers block on
 * XREADGROUP (no polling); acking is XACK + XDEL; entries of a dead consumer are reclaimed with
 * XAUTOCLAIM after the visibility timeout; live handlers keep theirs by XCLAIM (which resets the idle
 * time). Delays wait in a sorted set and move into the stream atomically when due; poison messages go
 * to a dead-letter stream.
 */
export class RedisBroker implements Broker {
  readonly maxDelayMs = Infinity;
  private readonly redis: Scripted;
  private readonly owned: boolean;
  private readonly connection: RedisConnection;
  private readonly L: KeyLayout;
  private readonly consumers = new Set<StreamConsumer>();
  private closed = false;
  private readonly instance = randomUUID().slice(0, 8);
  private counter = 0;

  constructor(private readonly options: RedisBrokerOptions) {
    const connection = openRedis(options);
    const { redis, owned } = connection;
    this.connection = connection;
    this.redis = redis as Scripted;
    this.owned = owned;
    this.L = new KeyLayout(options.prefix, connection.clustered, options.buckets);
    const r = redis;
    if (!('durablyPublish' in r)) {
      r.defineCommand('durablyPublish', { lua: PUBLISH, numberOfKeys: 3 });
      r.defineCommand('durablyMoveDue', { lua: MOVE_DUE, numberOfKeys: 2 });
      r.defineCommand('durablyRequeue', { lua: REQUEUE, numberOfKeys: 3 });
    }
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** A queue's keys: `{prefix}:q:<queue>` and so on, on a cluster under the queue's own tag `{prefix/<queue>}`. */
  keys(queue: string) {
    const P = this.L.queueTag(queue);
    return { stream: `${P}:q:${queue}`, delayed: `${P}:dq:${queue}`, dlq: `${P}:dlq:${queue}` };
  }

  dedupKey(queue: string, key: string): string {
    return `${this.L.queueTag(queue)}:dd:${queue}:${key}`;
  }

  get client(): Scripted {
    return this.redis;
  }

  async migrate(): Promise<void> {
    try {
      await this.redis.ping();
    } catch (err) {
      throw new BrokerError(this.connection.describe('connect', err), { cause: err });
    }
  }

  async publish(queue: string, body: string, options: PublishOptions = {}): Promise<void> {
    if (this.closed) throw new BrokerError('This RedisBroker is closed.');
    const k = this.keys(queue);
    const delay = Math.max(0, Math.round(options.delayMs ?? 0));
    const dk = options.dedupKey ?? '';
    try {
      if (delay === 0 && dk === '') {
        // Nothing to check or hold back: the stream entry alone, one command.
        await this.redis.xadd(k.stream, '*', 'id', randomUUID(), 'body', body, 'dc', '0', 'dk', '');
      } else {
        // Without a dedup key the script does not touch KEYS[3], but a cluster checks that it shares the slot.
        await this.redis.durablyPublish(k.stream, k.delayed, this.dedupKey(queue, dk), randomUUID(), body, 0, dk, delay > 0 ? Date.now() + delay : 0, delay + 3_600_000);
      }
    } catch (err) {
      throw new BrokerError(this.connection.describe(`publish to "${queue}"`, err), { cause: err });
    }
    if (delay > 0) this.armDue(queue, Date.now() + delay);
  }

  private readonly dueTimers = new Map<string, { at: number; timer: NodeJS.Timeout }>();

  /**
   * Moves a queue's delayed messages into its stream when the earliest one this process knows of is
   * due. The XADD wakes the readers blocked on that stream in every process, so a delay is on time
   * without interrupting a blocking read; consumers also move due messages themselves before each
   * read, which covers a publisher that died before its timer fired.
   */
  armDue(queue: string, at: number): void {
    if (this.closed) return;
    const current = this.dueTimers.get(queue);
    if (current && current.at <= at) return;
    if (current) clearTimeout(current.timer);
    const timer = setTimeout(() => void this.moveDue(queue), Math.max(0, at - Date.now()));
    timer.unref();
    this.dueTimers.set(queue, { at, timer });
  }

  private async moveDue(queue: string): Promise<void> {
    this.dueTimers.delete(queue);
    if (this.closed) return;
    const k = this.keys(queue);
    try {
      const untilDue = await this.redis.durablyMoveDue(k.stream, k.delayed, Date.now());
      if (untilDue >= 0) this.armDue(queue, Date.now() + untilDue);
    } catch {
      this.armDue(queue, Date.now() + 100);
    }
  }

  async consume(queue: string, handler: MessageHandler, options: ConsumeOptions): Promise<Subscription> {
    if (this.closed) throw new BrokerError('This RedisBroker is closed.');
    const k = this.keys(queue);
    try {
      await this.redis.xgroup('CREATE', k.stream, GROUP, '0', 'MKSTREAM');
    } catch (err) {
      if (!String((err as Error).message).includes('BUSYGROUP')) throw new BrokerError(this.connection.describe(`create the consumer group of "${queue}"`, err), { cause: err });
    }
    const consumer = new StreamConsumer(this, queue, `${this.instance}-${++this.counter}`, handler, {
      concurrency: Math.max(1, options.concurrency),
      visibilityTimeoutMs: options.visibilityTimeoutMs ?? 30_000,
      maxDeliveries: options.maxDeliveries ?? 10,
      retryBackoffMs: this.options.retryBackoffMs ?? defaultRetryBackoffMs,
    });
    this.consumers.add(consumer);
    consumer.start();
    return {
      stop: async () => {
        this.consumers.delete(consumer);
        await consumer.stop();
      },
    };
  }

  async deadLetters(queue: string, limit = 100): Promise<DeadLetter[]> {
    const entries = (await this.redis.xrange(this.keys(queue).dlq, '-', '+', 'COUNT', limit)) as Array<[string, string[]]>;
    return entries.map(([entryId, fields]) => {
      const f = toMap(fields);
      return { id: f.id || entryId, queue, body: f.body ?? '', reason: f.reason ?? 'unknown', deliveryCount: countOf(f.dc), at: Number(f.at) || Number(entryId.split('-')[0]) };
    });
  }

  async removeDeadLetter(queue: string, id: string): Promise<boolean> {
    // Dead letters are entries of a stream whose field `id` is the message id: find the entry, XDEL it.
    const key = this.keys(queue).dlq;
    for (let start = '-'; ; ) {
      const entries = (await this.redis.xrange(key, start, '+', 'COUNT', 500)) as Array<[string, string[]]>;
      for (const [entryId, fields] of entries) {
        if (toMap(fields).id === id) return (await this.redis.xdel(key, entryId)) > 0;
      }
      if (entries.length < 500) return false;
      start = `(${entries[entries.length - 1][0]}`;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const c of this.consumers) c.abandon();
    this.consumers.clear();
    for (const { timer } of this.dueTimers.values()) clearTimeout(timer);
    this.dueTimers.clear();
    if (this.owned) this.redis.disconnect();
  }
}

interface Settings {
  concurrency: number;
  visibilityTimeoutMs: number;
  maxDeliveries: number;
  retryBackoffMs: (deliveryCount: number) => number;
}

class StreamConsumer {
  private active = true;
  private readonly inflight = new Map<string, { promise: Promise<void>; entryId: string }>();
  private readonly reader: RedisClient;
  private readonly timers: NodeJS.Timeout[] = [];
  private slotFreed?: () => void;
  private loop?: Promise<void>;

  constructor(
    private readonly broker: RedisBroker,
    readonly queue: string,
    private readonly name: string,
    private readonly handler: MessageHandler,
    private readonly settings: Settings,
  ) {
    // Blocking reads need a connection of their own.
    this.reader = broker.client.duplicate();
    this.reader.on('error', () => undefined);
  }

  start(): void {
    this.loop = this.run();
    const lease = setInterval(() => void this.extendLeases(), Math.max(50, this.settings.visibilityTimeoutMs / 3));
    const reclaim = setInterval(() => void this.reclaim(), Math.max(100, this.settings.visibilityTimeoutMs / 2));
    lease.unref();
    reclaim.unref();
    this.timers.push(lease, reclaim);
  }


  private async run(): Promise<void> {
    const k = this.broker.keys(this.queue);
    const client = this.broker.client;
    while (this.active) {
      try {
        const untilDue = await client.durablyMoveDue(k.stream, k.delayed, Date.now());
        const free = this.settings.concurrency - this.inflight.size;
        if (free <= 0) {
          await new Promise<void>((resolve) => (this.slotFreed = resolve));
          continue;
        }
        const blockMs = untilDue < 0 ? 1000 : Math.max(1, Math.min(1000, untilDue));
        const res = (await this.reader.xreadgroup('GROUP', 'durably', this.name, 'COUNT', free, 'BLOCK', blockMs, 'STREAMS', k.stream, '>')) as
          | Array<[string, Array<[string, string[]]>]>
          | null;
        if (!this.active) return;
        for (const [, entries] of res ?? []) for (const [entryId, fields] of entries) this.handle(entryId, toMap(fields));
      } catch {
        if (!this.active) return;
        // Disconnected (stopping, or the server went away): try again shortly.
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  private handle(entryId: string, f: Record<string, string>): void {
    const client = this.broker.client;
    const k = this.broker.keys(this.queue);
    const deliveryCount = countOf(f.dc) + 1;
    if (f.body === undefined || f.id === undefined) {
      // Not written by publish (another program's XADD, a damaged entry): no handler could use it,
      // so it goes to the dead letters on its first delivery, under its stream id if it has no id.
      const reason = `malformed stream entry ${entryId}: no ${f.body === undefined ? '"body"' : '"id"'} field (fields: ${Object.keys(f).join(', ') || 'none'})`;
      const task = client
        .durablyRequeue(k.stream, k.delayed, k.dlq, entryId, f.id ?? entryId, f.body ?? '', deliveryCount, 0, reason, Date.now())
        .then(() => undefined, () => undefined) // still pending: reclaimed and tried again after the visibility timeout
        .finally(() => {
          this.inflight.delete(entryId);
          this.slotFreed?.();
          this.slotFreed = undefined;
        });
      this.inflight.set(entryId, { promise: task, entryId });
      return;
    }
    const delivery: Delivery = { id: f.id, queue: this.queue, body: f.body, deliveryCount };
    // Delivered: a new publish with the same dedup key is no longer a duplicate.
    if (f.dk) void client.del(this.broker.dedupKey(this.queue, f.dk)).catch(() => undefined);
    const task = (async () => {
      let failed = false;
      let failure: unknown;
      try {
        await this.handler(delivery);
      } catch (err) {
        failed = true;
        failure = err;
      }
      if (this.broker.isClosed || !this.inflight.has(entryId)) return; // abandoned
      try {
        if (!failed) {
          // Pipelined, not a transaction (two commands, not four): a crash between the two leaves an
          // acknowledged entry in the stream, which is never delivered again (readers take new entries only).
          const results = await client.pipeline().xack(k.stream, 'durably', entryId).xdel(k.stream, entryId).exec();
          const failedAck = results?.find(([err]) => err);
          if (failedAck) throw failedAck[0];
        } else {
          const reason = deadLetterReason(failure, deliveryCount, this.settings.maxDeliveries) ?? '';
          const now = Date.now();
          const dueAt = now + this.settings.retryBackoffMs(deliveryCount);
          await client.durablyRequeue(k.stream, k.delayed, k.dlq, entryId, f.id, f.body, deliveryCount, dueAt, reason, now);
          if (!reason) this.broker.armDue(this.queue, dueAt);
        }
      } catch {
        // Still pending: reclaimed after the visibility timeout.
      }
    })();
    const promise = task.finally(() => {
      this.inflight.delete(entryId);
      this.slotFreed?.();
      this.slotFreed = undefined;
    });
    this.inflight.set(entryId, { promise, entryId });
  }

  /** XCLAIM to ourselves resets the idle time of the entries our live handlers hold. */
  private async extendLeases(): Promise<void> {
    if (this.inflight.size === 0 || !this.active) return;
    try {
      await this.broker.client.xclaim(this.broker.keys(this.queue).stream, 'durably', this.name, 0, ...this.inflight.keys(), 'JUSTID');
    } catch {
      // Retried on the next tick.
    }
  }

  /** Entries idle past the visibility timeout belong to a dead consumer: put them back in the stream. */
  private async reclaim(): Promise<void> {
    if (!this.active) return;
    const k = this.broker.keys(this.queue);
    const client = this.broker.client;
    try {
      const [, entries] = (await client.xautoclaim(k.stream, 'durably', this.name, this.settings.visibilityTimeoutMs, '0-0', 'COUNT', 100)) as [string, Array<[string, string[]] | null>];
      const now = Date.now();
      for (const entry of entries) {
        if (!entry || !entry[1]) continue;
        const [entryId, fields] = entry;
        if (this.inflight.has(entryId)) continue;
        const f = toMap(fields);
        if (f.body === undefined || f.id === undefined) {
          await client.durablyRequeue(k.stream, k.delayed, k.dlq, entryId, f.id ?? entryId, f.body ?? '', countOf(f.dc) + 1, 0, `malformed stream entry ${entryId}: reclaimed without a "body" or "id" field`, now);
          continue;
        }
        // Delivered once already (to the dead consumer): it comes back with the count raised.
        await client.durablyRequeue(k.stream, k.delayed, k.dlq, entryId, f.id, f.body, countOf(f.dc) + 1, 0, '', now);
      }
    } catch {
      // The next tick tries again.
    }
  }

  async stop(): Promise<void> {
    this.active = false;
    this.slotFreed?.();
    this.reader.disconnect();
    await Promise.allSettled([...this.inflight.values()].map((i) => i.promise));
    for (const t of this.timers) clearInterval(t);
    await this.loop?.catch(() => undefined);
  }

  abandon(): void {
    this.active = false;
    this.slotFreed?.();
    for (const t of this.timers) clearInterval(t);
    this.inflight.clear();
    this.reader.disconnect();
  }
}

function toMap(fields: string[] | null | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < (fields?.length ?? 0); i += 2) out[fields![i]] = fields![i + 1];
  return out;
}

/** A stored delivery count; 0 when missing or not a count (an entry publish did not write). */
function countOf(dc: string | undefined): number {
  const n = Number(dc);
  return Number.isInteger(n) && n >= 0 ? n : 0;
}
