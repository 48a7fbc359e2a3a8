/**
 * B0: the raw limits of the backends, measured on the same servers as Durably: what any engine on
 * them could reach at most. Each figure runs for a fixed time, not a fixed count.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { Redis } from 'ioredis';
import amqp from 'amqplib';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AMQP_URL, PG_URL, REDIS_URL, type Row } from './shapes.js';

const row = (backend: string, mode: string, metric: string, value: number, unit: string): Row => ({ shape: 'B0', system: 'raw', backend, mode, metric, value, unit });

/** Runs `op` from `workers` loops for `ms`; returns operations per second. */
async function rate(workers: number, ms: number, op: (worker: number) => Promise<void>): Promise<number> {
  let count = 0;
  const end = performance.now() + ms;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      while (performance.now() < end) {
        await op(w);
        count++;
      }
    }),
  );
  return count / ((performance.now() - t0) / 1000);
}

/** Single-row INSERT, each its own transaction (autocommit), from 1 and 16 connections. */
export async function rawPostgres(ms: number): Promise<Row[]> {
  const schema = `durably_raw_${randomBytes(4).toString('hex')}`;
  const pool = new pg.Pool({ connectionString: PG_URL, max: 16 });
  const payload = 'x'.repeat(100);
  try {
    await pool.query(`CREATE SCHEMA ${schema}`);
    await pool.query(`CREATE TABLE ${schema}.t (id bigserial PRIMARY KEY, body text NOT NULL)`);
    const out: Row[] = [];
    for (const connections of [1, 16]) {
      const clients = await Promise.all(Array.from({ length: connections }, () => pool.connect()));
      try {
        const perSecond = await rate(connections, ms, (w) => clients[w].query({ name: 'raw-insert', text: `INSERT INTO ${schema}.t (body) VALUES ($1)`, values: [payload] }).then(() => undefined));
        out.push(row('postgres', `${connections} conn`, 'insert_commits_per_s', perSecond, 'commits/s'));
      } finally {
        for (const c of clients) c.release();
      }
    }
    return out;
  } finally {
    await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
    await pool.end();
  }
}

/**
 * Single-row INSERT into a SQLite file, each its own transaction, on one connection, with the local
 * backend's pragmas (WAL, synchronous=FULL: every commit is synced): the embedded default's raw limit.
 */
export async function rawSqlite(ms: number): Promise<Row[]> {
  const dir = mkdtempSync(join(tmpdir(), 'durably-raw-sqlite-'));
  const db = new Database(join(dir, 'raw.db'));
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('busy_timeout = 10000');
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)');
    const insert = db.prepare('INSERT INTO t (body) VALUES (?)');
    const payload = 'x'.repeat(100);
    const perSecond = await rate(1, ms, async () => {
      insert.run(payload);
    });
    return [row('local', '1 conn', 'insert_commits_per_s', perSecond, 'commits/s')];
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** XADD and EVALSHA (a small script: HINCRBY + XADD) from 1 and 16 connections. */
export async function rawRedis(ms: number): Promise<Row[]> {
  const prefix = `{durably-raw-${randomBytes(4).toString('hex')}}`;
  const payload = 'x'.repeat(100);
  const out: Row[] = [];
  for (const connections of [1, 16]) {
    const clients = Array.from({ length: connections }, () => new Redis(REDIS_URL));
    try {
      const script = `redis.call('HINCRBY', KEYS[1], 'n', 1) return redis.call('XADD', KEYS[2], '*', 'b', ARGV[1])`;
      const sha = (await clients[0].script('LOAD', script)) as string;
      const xadd = await rate(connections, ms, (w) => clients[w].xadd(`${prefix}:s`, 'MAXLEN', '~', '100000', '*', 'b', payload).then(() => undefined));
      out.push(row('redis', `${connections} conn`, 'xadd_per_s', xadd, 'ops/s'));
      const evalsha = await rate(connections, ms, (w) => clients[w].evalsha(sha, 2, `${prefix}:h`, `${prefix}:e`, payload).then(() => undefined));
      out.push(row('redis', `${connections} conn`, 'evalsha_per_s', evalsha, 'ops/s'));
    } finally {
      await clients[0].del(`${prefix}:s`, `${prefix}:h`, `${prefix}:e`);
      for (const c of clients) c.disconnect();
    }
  }
  return out;
}

/** Persistent publish with publisher confirms (a window of 50 unconfirmed), and consume with manual ack. */
export async function rawRabbit(ms: number): Promise<Row[]> {
  const connection = await amqp.connect(AMQP_URL);
  const queue = `durably-raw-${randomBytes(4).toString('hex')}`;
  try {
    const channel = await connection.createConfirmChannel();
    await channel.assertQueue(queue, { durable: true });
    const body = Buffer.alloc(100, 'x');
    let published = 0;
    const t0 = performance.now();
    const end = t0 + ms;
    await Promise.all(
      Array.from({ length: 50 }, async () => {
        while (performance.now() < end) {
          await new Promise<void>((resolve, reject) => channel.sendToQueue(queue, body, { persistent: true }, (err) => (err ? reject(err) : resolve())));
          published++;
        }
      }),
    );
    const publishRate = published / ((performance.now() - t0) / 1000);
    const consumer = await connection.createChannel();
    await consumer.prefetch(100);
    let consumed = 0;
    const c0 = performance.now();
    await new Promise<void>((resolve) => {
      void consumer.consume(queue, (msg) => {
        if (!msg) return;
        consumer.ack(msg);
        if (++consumed === published) resolve();
      });
    });
    const consumeRate = consumed / ((performance.now() - c0) / 1000);
    await consumer.close();
    await channel.deleteQueue(queue);
    await channel.close();
    return [row('rabbitmq', 'confirm window 50', 'publish_confirmed_per_s', publishRate, 'msgs/s'), row('rabbitmq', 'prefetch 100', 'consume_acked_per_s', consumeRate, 'msgs/s')];
  } finally {
    await connection.close().catch(() => undefined);
  }
}
