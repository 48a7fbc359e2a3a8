import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { statSync, readdirSync } from 'node:fs';
import { Client, LocalBroker, LocalStorage, MemoryBroker, MemoryStorage, Worker, defineHook, sleep, step, workflow, type Broker, type PayloadCodec, type Storage, type WorkerOptions } from '@durably/core';
import { PostgresBroker, PostgresStorage } from '@durably/postgres';
import { RedisBroker, RedisStorage } from '@durably/redis';
import { Redis } from 'ioredis';
import { redisClusterBackend } from './redis-cluster.js';
import { AMQP_URL, PG_URL, REDIS_URL, deleteRedisPrefix, dropPostgresSchema } from './servers.js';

export { AMQP_URL, PG_URL, REDIS_URL };

/** One measured figure, in the shape of tools/bench/results/latest.json rows. */
export interface Row {
  shape: string;
  system: 'durably' | 'dbos' | 'bullmq' | 'vercel-workflow' | 'restate' | 'raw';
  backend: string;
  mode: string;
  metric: string;
  value: number;
  unit: string;
  /** Which of the `--rounds` this figure comes from (1-based), set by main.ts. */
  round?: number;
}

export interface Opened {
  storage: Storage;
  broker: Broker;
  /** Removes what the bench wrote (the private schema, key prefix or directory). */
  close(): Promise<void>;
  /** The private schema, key prefix or directory, for `Backend.open(location)` to open it again (B7). */
  location?: string;
  /** Bytes the backend holds for this bench (tables, keys, file), when it can tell. */
  bytes?(): Promise<number>;
  /** Commands (Redis, counted by the server) or statements (Postgres, counted here) so far. */
  commands?(): Promise<number>;
  /** Of those, the ones that write (Postgres). */
  writes?(): Promise<number>;
  /** Named counters the backend keeps (DynamoDB read and write units, SQS requests), read around the measured part. */
  usage?(): Record<string, number>;
}

export interface Backend {
  name: string;
  /** A new private schema, key prefix or directory; or, given one an earlier Opened named, that one again. */
  open(location?: string): Opened;
}

export const BACKENDS: Record<string, Backend> = {
  memory: {
    name: 'memory',
    open() {
      return { storage: new MemoryStorage(), broker: new MemoryBroker(), close: async () => undefined };
    },
  },
  local: {
    name: 'local',
    open(location?: string) {
      const dir = location ?? mkdtempSync(join(tmpdir(), 'durably-bench-'));
      return {
        location: dir,
        storage: new LocalStorage({ path: dir }),
        broker: new LocalBroker({ path: dir }),
        close: async () => rmSync(dir, { recursive: true, force: true }),
        bytes: async () => readdirSync(dir).reduce((sum, f) => sum + statSync(join(dir, f)).size, 0),
      };
    },
  },
  redis: {
    name: 'redis',
    open(location?: string) {
      const prefix = location ?? `durably-bench-${randomBytes(4).toString('hex')}`;
      return {
        location: prefix,
        storage: new RedisStorage({ url: REDIS_URL, prefix }),
        broker: new RedisBroker({ url: REDIS_URL, prefix }),
        bytes: async () => {
          const r = new Redis(REDIS_URL);
          let total = 0;
          let cursor = '0';
          do {
            const [next, keys] = await r.scan(cursor, 'MATCH', `{${prefix}}:*`, 'COUNT', 1000);
            cursor = next;
            for (const k of keys) total += Number((await r.memory('USAGE', k)) ?? 0);
          } while (cursor !== '0');
          r.disconnect();
          return total;
        },
        // The server's count of every command it has run (all clients: run the bench alone).
        commands: async () => {
          const r = new Redis(REDIS_URL);
          const info = await r.info('stats');
          r.disconnect();
          return Number(/total_commands_processed:(\d+)/.exec(info)?.[1] ?? NaN);
        },
        close: () => deleteRedisPrefix(prefix),
      };
    },
  },
  postgres: {
    name: 'postgres',
    open(location?: string) {
      const schema = location ?? `durably_bench_${randomBytes(4).toString('hex')}`;
      return {
        location: schema,
        storage: new PostgresStorage({ url: PG_URL, schema, max: 16 }),
        broker: new PostgresBroker({ url: PG_URL, schema, max: 8 }),
        bytes: async () => {
          const c = new pg.Client({ connectionString: PG_URL });
          await c.connect();
          const { rows } = await c.query(
            `SELECT coalesce(sum(pg_total_relation_size(format('%I.%I', schemaname, tablename))), 0)::bigint AS bytes FROM pg_tables WHERE schemaname = $1`,
            [schema],
          );
          await c.end();
          return Number(rows[0].bytes);
        },
        // Statements this process sent (every Durably query goes through pg.Client#query).
        commands: async () => pgStatements.total,
        writes: async () => pgStatements.writes,
        close: () => dropPostgresSchema(schema),
      };
    },
  },
};

// Postgres storage with the Redis Streams broker: a pair chosen by configuration alone.
BACKENDS['postgres+redis'] = {
  name: 'postgres+redis',
  open() {
    const pgSide = BACKENDS.postgres.open();
    const redisSide = BACKENDS.redis.open();
    void redisSide.storage.close();
    void pgSide.broker.close();
    return {
      storage: pgSide.storage,
      broker: redisSide.broker,
      bytes: pgSide.bytes,
      close: async () => {
        await pgSide.close();
        await redisSide.close();
      },
    };
  },
};

/**
 * Counts the statements this process sends to Postgres, and which of them write, by wrapping
 * pg.Client#query (pools use it too). Durably's adapter and the bench's own few queries both show up;
 * the bench reads the counter around the measured part only.
 */
export const pgStatements = { total: 0, writes: 0 };
{
  const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown; __durablyCounted?: boolean };
  if (!proto.__durablyCounted) {
    const original = proto.query;
    proto.query = function (this: unknown, ...args: unknown[]) {
      const q = args[0] as string | { text?: string } | undefined;
      const text = typeof q === 'string' ? q : (q?.text ?? '');
      if (text) {
        pgStatements.total++;
        if (/\b(INSERT|UPDATE|DELETE)\b/i.test(text)) pgStatements.writes++;
      }
      return original.apply(this, args);
    };
    proto.__durablyCounted = true;
  }
}

// A private six-node Redis Cluster, started by main.ts when asked for (see redis-cluster.ts).
BACKENDS['redis-cluster'] = redisClusterBackend;

/** Backends that need a server (skipped, with a note, when it is not reachable outside CI). */
export const SERVER_BACKENDS = new Set(['postgres', 'redis', 'redis-cluster', 'postgres+redis', 'postgres+rabbitmq', 'local+rabbitmq']);

/** Counts storage writes so that the cost per step is measured, not assumed. */
export type CountingStorage = Storage & { appends: number; timerMoves: number; creates: number };

/** Counts appends (all of them, and apart the ones without events: lease renewals and timer moves). */
export function countingStorage(inner: Storage): CountingStorage {
  const counted = {
    appends: 0,
    timerMoves: 0,
    creates: 0,
    migrate: () => inner.migrate(),
    createRun: (r) => {
      counted.creates++;
      return inner.createRun(r);
    },
    getRun: (id) => inner.getRun(id),
    getRunByIdempotencyKey: (w, k) => inner.getRunByIdempotencyKey(w, k),
    listRuns: (f) => inner.listRuns(f),
    append: (r) => {
      counted.appends++;
      if (r.events.length === 0) counted.timerMoves++;
      return inner.append(r);
    },
    readEvents: (id, from, limit) => inner.readEvents(id, from, limit),
    touchRun: (id, at) => inner.touchRun(id, at),
    claimDueTimers: (now, o) => inner.claimDueTimers(now, o),
    listTimers: (id) => inner.listTimers(id),
    getHook: (t) => inner.getHook(t),
    deleteFinishedRuns: (b, l) => inner.deleteFinishedRuns(b, l),
    saveSchedule: (r, v) => inner.saveSchedule(r, v),
    getSchedule: (id) => inner.getSchedule(id),
    listSchedules: () => inner.listSchedules(),
    deleteSchedule: (id) => inner.deleteSchedule(id),
    claimDueSchedules: (now, o) => inner.claimDueSchedules(now, o),
    acquireSlot: (k, r, l) => inner.acquireSlot(k, r, l),
    takePermit: (k, l, p, n) => inner.takePermit(k, l, p, n),
    putCheckpoint: (r, st, v) => inner.putCheckpoint(r, st, v),
    getCheckpoint: (r, st) => inner.getCheckpoint(r, st),
    deleteCheckpoint: (r, st) => inner.deleteCheckpoint(r, st),
    close: () => inner.close(),
    ...(inner.subscribeFinished ? { subscribeFinished: (listener: (runId: string) => void) => inner.subscribeFinished!(listener) } : {}),
  } satisfies CountingStorage;
  return counted;
}

/** Counts broker publishes, so that the messages per step are measured, not assumed. */
export function countingBroker(inner: Broker): Broker & { published: number } {
  const counted = {
    published: 0,
    get maxDelayMs() {
      return inner.maxDelayMs;
    },
    migrate: () => inner.migrate(),
    publish: (queue: string, body: string, options?: Parameters<Broker['publish']>[2]) => {
      counted.published++;
      return inner.publish(queue, body, options);
    },
    consume: (queue: string, handler: Parameters<Broker['consume']>[1], options: Parameters<Broker['consume']>[2]) => inner.consume(queue, handler, options),
    deadLetters: (queue: string, limit?: number) => inner.deadLetters(queue, limit),
    close: () => inner.close(),
  };
  return counted as Broker & { published: number };
}

const noop = step('bench.noop', async (payload: string) => payload);
export const threeSteps = workflow('bench.three-steps', async (payload: string) => {
  await noop(payload);
  await noop(payload);
  return noop(payload);
});
export const longChain = workflow('bench.long-chain', async (steps: number, stamps: boolean) => {
  const gaps: number[] = [];
  let last = performance.now();
  for (let i = 0; i < steps; i++) {
    await noop('x');
    // Wall-clock stamps are not deterministic, which is fine here: the run never replays.
    const now = performance.now();
    if (stamps) gaps.push(now - last);
    last = now;
  }
  return gaps;
});
export const sleeper = workflow('bench.sleeper', async (ms: number) => {
  await sleep(ms);
  return Date.now();
});
const stampNoop = step('bench.stamp', async () => performance.timeOrigin + performance.now());
export const fanOut = workflow('bench.fan-out', async (n: number) => Promise.all(Array.from({ length: n }, () => stampNoop())));

export const benchHook = defineHook<string>('bench.hook');
/** Tokens of the hooks created by hookWaiter runs, by run id (the bench's "other process" reads them). */
export const hookTokens = new Map<string, string>();
const publishToken = step('bench.publish-token', async (runId: string, token: string) => {
  hookTokens.set(runId, token);
});
export const hookWaiter = workflow('bench.hook-waiter', async (runId: string) => {
  const hook = benchHook.create();
  await publishToken(runId, hook.token);
  const value = await hook;
  return noop(value);
});

export const WORKFLOWS = [threeSteps, longChain, sleeper, fanOut, hookWaiter];

export async function withEngine<T>(
  backend: Backend,
  mode: 'inline' | 'dispatch',
  fn: (c: Client, storage: CountingStorage, opened: Opened & { published(): number }) => Promise<T>,
  workerOptions: Partial<WorkerOptions> = {},
  codec?: PayloadCodec,
): Promise<T> {
  const opened = backend.open();
  const storage = countingStorage(opened.storage);
  const broker = countingBroker(opened.broker);
  // With a codec the client encrypts above the counting storage: the counts are of what is stored.
  const client = new Client({ storage, broker, codec });
  const worker = new Worker(client, { workflows: WORKFLOWS, concurrency: 64, stepMode: mode, ...workerOptions });
  await worker.start();
  try {
    return await fn(client, storage, { ...opened, published: () => broker.published });
  } finally {
    await worker.stop();
    await client.close();
    await opened.close();
  }
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/**
 * B1's load: `count` runs of threeSteps (100-byte payload) kept `concurrency` in flight by `client`,
 * after 50 discarded warm-up runs; `measuring` is called between the two. Latency is start to result.
 */
export async function threeStepRuns(client: Client, count: number, concurrency: number, measuring: () => Promise<void> | void = () => undefined): Promise<{ seconds: number; latencies: number[] }> {
  const payload = 'x'.repeat(100);
  const latencies: number[] = [];
  const runOne = async () => {
    const t0 = performance.now();
    const run = await client.start(threeSteps, payload);
    await run.result({ timeout: '120s' });
    latencies.push(performance.now() - t0);
  };
  // Warm-up, discarded.
  await Promise.all(Array.from({ length: Math.min(50, count) }, runOne));
  latencies.length = 0;
  await measuring();
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < count) await runOne();
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  return { seconds, latencies: latencies.sort((a, b) => a - b) };
}

/** B1: `count` workflows of 3 no-op steps, `concurrency` in flight from the client. */
export async function b1(backend: Backend, mode: 'inline' | 'dispatch', count: number, concurrency: number, codec?: PayloadCodec): Promise<Row[]> {
  return withEngine(backend, mode, async (client, storage, opened) => {
    let appends0 = 0;
    let moves0 = 0;
    let published0 = 0;
    let commands0 = NaN;
    let writes0 = NaN;
    let usage0: Record<string, number> = {};
    let cpu0 = process.cpuUsage();
    const { seconds, latencies } = await threeStepRuns(client, count, concurrency, async () => {
      cpu0 = process.cpuUsage();
      appends0 = storage.appends;
      moves0 = storage.timerMoves;
      published0 = opened.published();
      commands0 = (await opened.commands?.()) ?? NaN;
      writes0 = (await opened.writes?.()) ?? NaN;
      usage0 = opened.usage?.() ?? {};
    });
    // CPU of this process (every thread: the client, and the worker when inline or in-process) over the measured runs.
    const cpu = process.cpuUsage(cpu0);
    const row = (metric: string, value: number, unit: string): Row => ({ shape: 'B1', system: 'durably', backend: backend.name, mode, metric, value, unit });
    return [
      row('workflows_per_s', count / seconds, 'workflows/s'),
      row('bench_cpu_ms_per_workflow', (cpu.user + cpu.system) / 1000 / count, 'ms'),
      row('steps_per_s', (count * 3) / seconds, 'steps/s'),
      row('latency_p50_ms', percentile(latencies, 50), 'ms'),
      row('latency_p99_ms', percentile(latencies, 99), 'ms'),
      row('appends_per_step', (storage.appends - appends0) / (count * 3), 'appends/step'),
      // Appends without events: a step's lease renewed (once a third of stepLease has passed, so only on a slow backend) or a timer moved.
      row('timer_moves_per_step', (storage.timerMoves - moves0) / (count * 3), 'appends/step'),
      row('broker_messages_per_step', (opened.published() - published0) / (count * 3), 'messages/step'),
      ...(opened.commands && (backend.name === 'redis' || backend.name === 'redis-cluster') ? [row('redis_commands_per_step', ((await opened.commands()) - commands0) / (count * 3), 'commands/step')] : []),
      ...(opened.commands && backend.name === 'postgres' ? [row('pg_statements_per_step', ((await opened.commands()) - commands0) / (count * 3), 'statements/step')] : []),
      ...(opened.writes && backend.name === 'postgres' ? [row('pg_writes_per_step', ((await opened.writes()) - writes0) / (count * 3), 'statements/step')] : []),
      ...Object.entries(opened.usage?.() ?? {}).map(([name, value]) => row(`${name}_per_step`, (value - (usage0[name] ?? 0)) / (count * 3), `${name.replace(/^.*_(units|requests)$/, '$1')}/step`)),
    ];
  }, {}, codec);
}

/** B2: one workflow of `steps` sequential steps; total time and late/early step-gap ratio. */
export async function b2(backend: Backend, mode: 'inline' | 'dispatch', steps: number, codec?: PayloadCodec): Promise<Row[]> {
  return withEngine(backend, mode, async (client, _storage, opened) => {
    const usage0 = opened.usage?.() ?? {};
    const t0 = performance.now();
    const gaps = (await (await client.start(longChain, steps, true)).result({ timeout: '600s' })) as number[];
    const total = performance.now() - t0;
    const usage = Object.entries(opened.usage?.() ?? {}).map(([name, value]): Row => ({ shape: 'B2', system: 'durably', backend: backend.name, mode, metric: `${name}_per_step`, value: (value - (usage0[name] ?? 0)) / steps, unit: `${name.replace(/^.*_(units|requests)$/, '$1')}/step` }));
    const tenth = Math.max(1, Math.floor(steps / 10));
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const early = mean(gaps.slice(0, tenth));
    const late = mean(gaps.slice(-tenth));
    const row = (metric: string, value: number, unit: string): Row => ({ shape: 'B2', system: 'durably', backend: backend.name, mode, metric, value, unit });
    return [row('total_ms', total, 'ms'), row('ms_per_step', total / steps, 'ms'), row('gap_early_ms', early, 'ms'), row('gap_late_ms', late, 'ms'), row('gap_ratio_late_early', late / early, 'x'), ...usage];
  }, {}, codec);
}

/**
 * B3: `count` workflows sleeping `ms`; lateness of the wake-up past the requested time. `windowMs`
 * sets the workers' localTimerWindow (default 60 s): a sleep longer than it is woken by a broker
 * message sent to arrive one window early and held by the worker that receives it (what a sleep
 * past 60 s gets, measured on a shorter one with a shorter window); 0 turns the workers' own timers
 * off, so every wake-up is a delayed broker message, as late as the broker's delays are.
 */
export async function b3(backend: Backend, count: number, ms: number, windowMs?: number): Promise<Row[]> {
  return withEngine(backend, 'inline', async (client) => {
    const runs = await Promise.all(Array.from({ length: count }, () => client.start(sleeper, ms)));
    const lateness: number[] = [];
    await Promise.all(
      runs.map(async (run) => {
        await run.result({ timeout: `${ms + 120_000}ms` });
        const events = await run.events();
        const started = events.find((e) => e.type === 'sleep_started') as { data: { wakeAt: number } } | undefined;
        const woke = events.find((e) => e.type === 'sleep_completed');
        if (started && woke) lateness.push(woke.at - started.data.wakeAt);
      }),
    );
    lateness.sort((a, b) => a - b);
    const row = (metric: string, value: number): Row => ({ shape: 'B3', system: 'durably', backend: backend.name, mode: `sleep ${ms}ms${windowMs === 0 ? ' via broker' : windowMs !== undefined ? `, window ${windowMs}ms` : ''}`, metric, value, unit: 'ms' });
    return [row('lateness_p50_ms', percentile(lateness, 50)), row('lateness_p99_ms', percentile(lateness, 99)), row('lateness_max_ms', lateness.at(-1) ?? NaN)];
  }, windowMs !== undefined ? { localTimerWindow: `${windowMs}ms` } : {});
}

/**
 * B4: worker RSS before and after `count` runs suspend (after GC), on a 1 h sleep or on a hook, and
 * the storage bytes per suspended run.
 */
export async function b4(backend: Backend, count: number, on: 'sleep' | 'hook' = 'sleep'): Promise<Row[]> {
  return withEngine(backend, 'inline', async (client, storage, opened) => {
    const gc = (globalThis as { gc?: () => void }).gc;
    const settle = async () => {
      for (let i = 0; i < 3; i++) {
        gc?.();
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    await settle();
    const bytes0 = (await opened.bytes?.()) ?? NaN;
    const before = process.memoryUsage();
    const runs = [];
    for (let i = 0; i < count; i += 500) {
      runs.push(
        ...(await Promise.all(
          Array.from({ length: Math.min(500, count - i) }, async () => {
            if (on === 'sleep') return client.start(sleeper, 3_600_000);
            const runId = crypto.randomUUID();
            return client.startWith(hookWaiter, [runId], { runId });
          }),
        )),
      );
    }
    const deadline = Date.now() + 180_000;
    // Wait for all to suspend.
    for (const run of runs) {
      while ((await run.status()) !== 'suspended' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    }
    await settle();
    const after = process.memoryUsage();
    const bytes1 = (await opened.bytes?.()) ?? NaN;
    for (const run of runs) hookTokens.delete(run.runId);
    const row = (metric: string, value: number, unit: string): Row => ({ shape: 'B4', system: 'durably', backend: backend.name, mode: on === 'sleep' ? 'sleep 1h' : 'hook', metric, value, unit });
    return [
      row('suspended_runs', count, 'runs'),
      row('rss_delta_mb', (after.rss - before.rss) / 2 ** 20, 'MB'),
      row('heap_delta_mb', (after.heapUsed - before.heapUsed) / 2 ** 20, 'MB'),
      ...(opened.bytes ? [row('storage_bytes_per_run', (bytes1 - bytes0) / count, 'bytes')] : []),
    ];
  });
}

/** B6: hook round trip: resumeHook from another client until the run's next step is done; p50/p99. */
export async function b6(backend: Backend, count: number, concurrency: number): Promise<Row[]> {
  return withEngine(backend, 'inline', async (client) => {
    const other = new Client({ storage: client.storage, broker: client.broker });
    const rounds: number[] = [];
    const one = async () => {
      const runId = crypto.randomUUID();
      const run = await client.startWith(hookWaiter, [runId], { runId });
      while (!hookTokens.has(runId)) await new Promise((r) => setTimeout(r, 2));
      while ((await run.status()) !== 'suspended') await new Promise((r) => setTimeout(r, 2));
      const t0 = performance.now();
      await other.resumeHook(hookTokens.get(runId)!, 'go');
      await run.result({ timeout: '60s' });
      rounds.push(performance.now() - t0);
      hookTokens.delete(runId);
    };
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next++ < count) await one();
      }),
    );
    rounds.sort((a, b) => a - b);
    const row = (metric: string, value: number): Row => ({ shape: 'B6', system: 'durably', backend: backend.name, mode: 'inline', metric, value, unit: 'ms' });
    return [row('round_trip_p50_ms', percentile(rounds, 50)), row('round_trip_p99_ms', percentile(rounds, 99))];
  });
}

/** B5: one workflow with `n` parallel steps; time to the result. */
export async function b5(backend: Backend, mode: 'inline' | 'dispatch', n: number): Promise<Row[]> {
  return withEngine(backend, mode, async (client, storage) => {
    const appends0 = storage.appends;
    const t0 = performance.timeOrigin + performance.now();
    const stamps = (await (await client.start(fanOut, n)).result({ timeout: '120s' })) as number[];
    const total = performance.timeOrigin + performance.now() - t0;
    const row = (metric: string, value: number, unit: string): Row => ({ shape: 'B5', system: 'durably', backend: backend.name, mode, metric, value, unit });
    return [
      row('first_step_done_ms', Math.min(...stamps) - t0, 'ms'),
      row('last_step_done_ms', Math.max(...stamps) - t0, 'ms'),
      row('result_ms', total, 'ms'),
      row('appends', storage.appends - appends0, 'appends'),
    ];
  });
}
