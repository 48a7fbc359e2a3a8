/**
 * Bulk loaders of finished runs, for B7 (growth). Each copies a template: one real run that the
 * engine ran to its end through the adapter, so the copies hold exactly what the adapter writes for a
 * finished run (every column of every per-run table, every key and index entry), with a fresh run id
 * and the times moved to the copy's own creation time. The contract has no import path (`durably runs
 * export` and the compatibility fixtures' histories are read back by replay, not stored), so each
 * storage gets a loader of its own, at the speed of the server's bulk path:
 *
 * - Postgres: one INSERT ... SELECT per per-run table and chunk, from generate_series and the
 *   template's rows (the server writes the rows and their indexes itself), then ANALYZE, as
 *   autovacuum would after such a growth.
 * - local (SQLite): the same INSERT ... SELECT, one transaction per chunk, on its own connection to
 *   the file (WAL lets the storage's connection stay open).
 * - Redis: pipelines writing the template's keys (run hash, event list) and index entries (the sorted
 *   sets the scripts maintain), each member and score made the way the scripts make them.
 *
 * A template that holds something a loader does not know how to copy (a hook, a timer, a key of a
 * type it does not write) is refused with an error naming it, so the layout cannot drift unnoticed.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { Redis } from 'ioredis';
import { PG_URL, REDIS_URL } from './shapes.js';

/** Copies `count` times the finished run `template`, copy i created at `firstCreatedAt + i * spacingMs`. */
export type BulkLoader = (location: string, template: string, count: number, firstCreatedAt: number, spacingMs: number) => Promise<void>;

/** Copies per transaction (or pipeline), so that no statement holds millions of rows at once. */
const CHUNK = 25_000;

/** Columns of a per-run table that hold epoch-ms times of the run: moved by the copy's offset. */
const TIME_COLUMNS = new Set(['created_at', 'updated_at', 'finished_at', 'start_at', 'at', 'fire_at', 'expires_at', 'consumed_at']);

/** Tables whose rows the loaders may copy; any other per-run table holding the template's rows is refused. */
const COPYABLE = new Set(['runs', 'events', 'run_tags', 'run_attributes', 'checkpoints']);

async function postgres(schema: string, template: string, count: number, firstCreatedAt: number, spacingMs: number): Promise<void> {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    const S = `"${schema}"`;
    const { rows: cols } = await c.query<{ table_name: string; column_name: string }>(
      `SELECT table_name, column_name FROM information_schema.columns
       WHERE table_schema = $1 AND table_name IN (SELECT table_name FROM information_schema.columns WHERE table_schema = $1 AND column_name = 'run_id')
       ORDER BY table_name, ordinal_position`,
      [schema],
    );
    const tables = new Map<string, string[]>();
    for (const r of cols) tables.set(r.table_name, [...(tables.get(r.table_name) ?? []), r.column_name]);
    const { rows: t } = await c.query<{ created_at: string }>(`SELECT created_at FROM ${S}.runs WHERE run_id = $1 AND finished_at IS NOT NULL`, [template]);
    if (!t[0]) throw new Error(`B7 Postgres loader: the template run ${template} is not a finished run of schema ${schema}.`);
    const used: Array<[string, string[]]> = [];
    for (const [table, columns] of tables) {
      const { rows } = await c.query<{ n: string }>(`SELECT count(*) AS n FROM ${S}."${table}" WHERE run_id = $1`, [template]);
      if (Number(rows[0].n) === 0) continue;
      if (!COPYABLE.has(table)) throw new Error(`B7 Postgres loader: the template run has rows in ${schema}.${table}, which it cannot copy.`);
      used.push([table, columns]);
    }
    // runs first: the copies' other rows follow it in one statement, through the CTE's ids.
    used.sort(([a], [b]) => (a === 'runs' ? -1 : b === 'runs' ? 1 : a.localeCompare(b)));
    const inserts = used.map(([table, columns], i) => {
      const exprs = columns.map((col) => (col === 'run_id' ? 'ids.run_id' : TIME_COLUMNS.has(col) ? `src."${col}" + ids.shift` : `src."${col}"`));
      return `i${i} AS (INSERT INTO ${S}."${table}" (${columns.map((col) => `"${col}"`).join(', ')})
        SELECT ${exprs.join(', ')} FROM ids, (SELECT * FROM ${S}."${table}" WHERE run_id = $1) src)`;
    });
    for (let from = 0; from < count; from += CHUNK) {
      const n = Math.min(CHUNK, count - from);
      await c.query(
        `WITH ids AS MATERIALIZED (
           SELECT gen_random_uuid()::text AS run_id, ($2::bigint + i * $3::bigint) - $4::bigint AS shift FROM generate_series($5::bigint, $6::bigint) i
         ), ${inserts.join(',\n')}
         SELECT 1`,
        [template, firstCreatedAt, spacingMs, Number(t[0].created_at), from, from + n - 1],
      );
    }
    for (const [table] of used) await c.query(`ANALYZE ${S}."${table}"`);
  } finally {
    await c.end();
  }
}

async function local(dir: string, template: string, count: number, firstCreatedAt: number, spacingMs: number): Promise<void> {
  const db = new Database(join(dir, 'durably.db'));
  try {
    db.pragma('busy_timeout = 10000');
    const tables = (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).all() as Array<{ name: string }>)
      .map(({ name }) => ({ name, columns: (db.prepare(`SELECT name FROM pragma_table_info(?)`).all(name) as Array<{ name: string }>).map((c) => c.name) }))
      .filter((t) => t.columns.includes('run_id'));
    const t = db.prepare(`SELECT created_at FROM runs WHERE run_id = ? AND finished_at IS NOT NULL`).get(template) as { created_at: number } | undefined;
    if (!t) throw new Error(`B7 SQLite loader: the template run ${template} is not a finished run of ${dir}.`);
    const used = tables.filter(({ name }) => (db.prepare(`SELECT count(*) AS n FROM "${name}" WHERE run_id = ?`).get(template) as { n: number }).n > 0);
    for (const { name } of used) if (!COPYABLE.has(name)) throw new Error(`B7 SQLite loader: the template run has rows in ${name}, which it cannot copy.`);
    db.exec(`CREATE TEMP TABLE b7_ids (run_id TEXT NOT NULL, shift INTEGER NOT NULL)`);
    const addId = db.prepare(`INSERT INTO b7_ids (run_id, shift) VALUES (?, ?)`);
    const copies = used.map(({ name, columns }) => {
      const exprs = columns.map((col) => (col === 'run_id' ? 'ids.run_id' : TIME_COLUMNS.has(col) ? `src."${col}" + ids.shift` : `src."${col}"`));
      return db.prepare(`INSERT INTO "${name}" (${columns.map((col) => `"${col}"`).join(', ')}) SELECT ${exprs.join(', ')} FROM b7_ids ids, (SELECT * FROM "${name}" WHERE run_id = ?) src`);
    });
    const chunk = db.transaction((from: number, n: number) => {
      db.exec('DELETE FROM b7_ids');
      for (let i = from; i < from + n; i++) addId.run(randomUUID(), firstCreatedAt + i * spacingMs - t.created_at);
      for (const copy of copies) copy.run(template);
    });
    for (let from = 0; from < count; from += CHUNK) chunk.immediate(from, Math.min(CHUNK, count - from));
  } finally {
    db.close();
  }
}

/** Index members as the scripts make them (scripts.ts MEMBER): zero-padded creation time, then the run id. */
const member = (createdAt: number, runId: string) => `${String(createdAt).padStart(16, '0')}:${runId}`;

async function redis(prefix: string, template: string, count: number, firstCreatedAt: number, spacingMs: number): Promise<void> {
  const r = new Redis(REDIS_URL);
  try {
    const P = `{${prefix}}`;
    const run = await r.hgetall(`${P}:run:${template}`);
    if (!run.finishedAt) throw new Error(`B7 Redis loader: the template run ${template} is not a finished run of prefix ${P}.`);
    const createdAt = Number(run.createdAt);
    const events = (await r.lrange(`${P}:ev:${template}`, 0, -1)).map((s) => JSON.parse(s) as { runId: string; at: number });
    // Every key of the prefix that names the run, or is an index the run is a member of.
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, found] = await r.scan(cursor, 'MATCH', `${P}:*`, 'COUNT', 1000);
      cursor = next;
      keys.push(...found);
    } while (cursor !== '0');
    const lexIndexes: string[] = [];
    const scoredIndexes: string[] = [];
    for (const key of keys) {
      if (key === `${P}:run:${template}` || key === `${P}:ev:${template}`) continue;
      if (key.includes(template)) throw new Error(`B7 Redis loader: the template run has the key ${key}, which it cannot copy.`);
      if ((await r.type(key)) !== 'zset') continue;
      if ((await r.zscore(key, member(createdAt, template))) !== null) lexIndexes.push(key);
      else if ((await r.zscore(key, template)) !== null) {
        if (key !== `${P}:idx:finished`) throw new Error(`B7 Redis loader: the template run is in the sorted set ${key}, which it cannot copy.`);
        scoredIndexes.push(key);
      }
    }
    if (!lexIndexes.includes(`${P}:idx:all`) || scoredIndexes.length !== 1) throw new Error(`B7 Redis loader: the template run is not in ${P}:idx:all and ${P}:idx:finished: the layout changed.`);
    for (let from = 0; from < count; from += CHUNK / 5) {
      const n = Math.min(CHUNK / 5, count - from);
      const pipeline = r.pipeline();
      const lex: string[] = [];
      const finished: Array<string | number> = [];
      for (let i = from; i < from + n; i++) {
        const runId = randomUUID();
        const shift = firstCreatedAt + i * spacingMs - createdAt;
        const hash: Record<string, string> = { ...run, createdAt: String(createdAt + shift), updatedAt: String(Number(run.updatedAt) + shift), finishedAt: String(Number(run.finishedAt) + shift) };
        if (run.startAt !== undefined) hash.startAt = String(Number(run.startAt) + shift);
        pipeline.hset(`${P}:run:${runId}`, hash);
        pipeline.rpush(`${P}:ev:${runId}`, ...events.map((e) => JSON.stringify({ ...e, runId, at: e.at + shift })));
        lex.push('0', member(createdAt + shift, runId));
        finished.push(Number(run.finishedAt) + shift, runId);
      }
      for (const key of lexIndexes) pipeline.zadd(key, ...lex);
      pipeline.zadd(`${P}:idx:finished`, ...finished);
      const results = (await pipeline.exec()) ?? [];
      const failed = results.find(([err]) => err);
      if (failed) throw failed[0];
    }
  } finally {
    r.disconnect();
  }
}

/** The loader of each backend B7 measures. */
export const BULK_LOADERS: Record<string, BulkLoader> = { postgres, local, redis };
