import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DurablyError, StorageError } from '@durably/contracts';
import { openSqlite, type SqliteDatabase, type SqliteDriverName } from './driver.js';
import { ATTRIBUTES_MIGRATION } from './attributes.js';

export type { SqliteDatabase, SqliteDriverName };

/**
 * The embedded backend's database file: `<dir>/durably.db`, SQLite in WAL mode.
 *
 * Why SQLite: one file, no server, transactions that survive a crash of the process at any instant,
 * and file locking that lets a worker process and a CLI process use the same file at once. The
 * library (node:sqlite or better-sqlite3, see driver.ts) is synchronous, which keeps every
 * conditional append one short transaction with no interleaving inside the process.
 *
 * synchronous=FULL: a committed transaction survives a power loss, not only a process crash. The cost
 * is one fsync per commit, shared by the writes of one batch (group-commit.ts), measured in tools/bench.
 */
export function openDatabase(dir: string, driver?: SqliteDriverName): SqliteDatabase {
  const path = resolve(dir);
  try {
    mkdirSync(path, { recursive: true });
    const db = openSqlite(join(path, 'durably.db'), driver);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    // Another process holding the write lock makes us wait, not fail.
    db.pragma('busy_timeout = 10000');
    db.pragma('foreign_keys = OFF');
    return db;
  } catch (err) {
    // No SQLite driver: that error names what to install; a directory that cannot be written is another.
    if (err instanceof DurablyError) throw err;
    throw new StorageError(`Cannot open the local database in ${path}: ${(err as Error).message}. Check that the directory is writable.`, { cause: err });
  }
}

/** Ordered schema migrations; the index of each is its version. Never edit one that shipped: add another. */
const MIGRATIONS: string[] = [
  `
  CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    workflow TEXT NOT NULL,
    status TEXT NOT NULL,
    queue TEXT NOT NULL,
    args TEXT NOT NULL,
    result TEXT,
    error TEXT,
    idempotency_key TEXT UNIQUE,
    parent_run_id TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    start_at INTEGER,
    finished_at INTEGER,
    last_seq INTEGER NOT NULL
  );
  CREATE INDEX IF NOT EXISTS runs_created ON runs (created_at DESC, run_id DESC);
  CREATE INDEX IF NOT EXISTS runs_workflow ON runs (workflow, created_at DESC, run_id DESC);
  CREATE INDEX IF NOT EXISTS runs_status ON runs (status, updated_at);
  CREATE INDEX IF NOT EXISTS runs_parent ON runs (parent_run_id, created_at DESC, run_id DESC) WHERE parent_run_id IS NOT NULL;
  CREATE TABLE IF NOT EXISTS events (
    run_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    type TEXT NOT NULL,
    correlation_id TEXT,
    at INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
  ) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS timers (
    run_id TEXT NOT NULL,
    timer_id TEXT NOT NULL,
    fire_at INTEGER NOT NULL,
    lease_until INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, timer_id)
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS timers_due ON timers (fire_at);
  CREATE TABLE IF NOT EXISTS messages (
    id TEXT PRIMARY KEY,
    queue TEXT NOT NULL,
    body TEXT NOT NULL,
    available_at INTEGER NOT NULL,
    delivery_count INTEGER NOT NULL DEFAULT 0,
    dedup_key TEXT,
    created_at INTEGER NOT NULL
  );
  CREATE INDEX IF NOT EXISTS messages_ready ON messages (queue, available_at);
  CREATE INDEX IF NOT EXISTS messages_dedup ON messages (queue, dedup_key) WHERE dedup_key IS NOT NULL;
  CREATE TABLE IF NOT EXISTS dead_letters (
    id TEXT PRIMARY KEY,
    queue TEXT NOT NULL,
    body TEXT NOT NULL,
    reason TEXT NOT NULL,
    delivery_count INTEGER NOT NULL,
    at INTEGER NOT NULL
  );
  CREATE INDEX IF NOT EXISTS dead_letters_queue ON dead_letters (queue, at);
  `,
  `
  CREATE TABLE IF NOT EXISTS hooks (
    token TEXT PRIMARY KEY,
    run_id TEXT NOT NULL,
    correlation_id TEXT NOT NULL,
    name TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    consumed_at INTEGER
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS hooks_run ON hooks (run_id);
  `,
  `
  CREATE INDEX IF NOT EXISTS runs_finished ON runs (finished_at) WHERE finished_at IS NOT NULL;
  `,
  `
  CREATE TABLE IF NOT EXISTS schedules (
    schedule_id TEXT PRIMARY KEY,
    record TEXT NOT NULL,
    paused INTEGER NOT NULL,
    next_fire_at INTEGER,
    buffered INTEGER NOT NULL DEFAULT 0,
    version INTEGER NOT NULL,
    lease_until INTEGER NOT NULL DEFAULT 0
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS schedules_due ON schedules (next_fire_at) WHERE paused = 0;
  `,
  `
  CREATE TABLE IF NOT EXISTS concurrency_slots (
    key TEXT NOT NULL,
    run_id TEXT NOT NULL,
    PRIMARY KEY (key, run_id)
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS concurrency_slots_run ON concurrency_slots (run_id);
  CREATE TABLE IF NOT EXISTS rate_permits (
    key TEXT PRIMARY KEY,
    window INTEGER NOT NULL,
    used INTEGER NOT NULL
  ) WITHOUT ROWID;
  `,
  `
  ALTER TABLE runs ADD COLUMN tags TEXT;
  CREATE TABLE IF NOT EXISTS checkpoints (
    run_id TEXT NOT NULL,
    step_id TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (run_id, step_id)
  ) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS run_tags (
    tag TEXT NOT NULL,
    run_id TEXT NOT NULL,
    PRIMARY KEY (tag, run_id)
  ) WITHOUT ROWID;
  `,
  // Idempotency keys become unique per workflow. SQLite cannot drop a column's UNIQUE constraint, so
  // the runs table is rebuilt (the documented way: new table, copy, drop, rename, indexes again).
  `
  CREATE TABLE runs_v7 (
    run_id TEXT PRIMARY KEY,
    workflow TEXT NOT NULL,
    status TEXT NOT NULL,
    queue TEXT NOT NULL,
    args TEXT NOT NULL,
    result TEXT,
    error TEXT,
    idempotency_key TEXT,
    parent_run_id TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    start_at INTEGER,
    finished_at INTEGER,
    last_seq INTEGER NOT NULL,
    tags TEXT
  );
  INSERT INTO runs_v7 (run_id, workflow, status, queue, args, result, error, idempotency_key, parent_run_id, created_at, updated_at, start_at, finished_at, last_seq, tags)
    SELECT run_id, workflow, status, queue, args, result, error, idempotency_key, parent_run_id, created_at, updated_at, start_at, finished_at, last_seq, tags FROM runs;
  DROP TABLE runs;
  ALTER TABLE runs_v7 RENAME TO runs;
  CREATE INDEX runs_created ON runs (created_at DESC, run_id DESC);
  CREATE INDEX runs_workflow ON runs (workflow, created_at DESC, run_id DESC);
  CREATE INDEX runs_status ON runs (status, updated_at);
  CREATE INDEX runs_parent ON runs (parent_run_id, created_at DESC, run_id DESC) WHERE parent_run_id IS NOT NULL;
  CREATE INDEX runs_finished ON runs (finished_at) WHERE finished_at IS NOT NULL;
  CREATE UNIQUE INDEX runs_idempotency ON runs (workflow, idempotency_key) WHERE idempotency_key IS NOT NULL;
  `,
  ATTRIBUTES_MIGRATION,
  // listRuns({ status }) reads a status's runs newest first from this index, instead of sorting all of
  // them (runs_status, ordered by updated_at, serves the stale-run sweep): a page of completed runs
  // costs the same with 500,000 of them in the file as with none (tools/bench B7).
  `
  CREATE INDEX IF NOT EXISTS runs_status_created ON runs (status, created_at DESC, run_id DESC);
  `,
];

/**
 * Applies the migrations the file lacks, in one IMMEDIATE transaction (which takes the write lock at
 * once), so two processes migrating together serialize and the second finds nothing to do. `target`
 * stops at an older version (tests of the upgrade path use it).
 */
export function migrate(db: SqliteDatabase, target = MIGRATIONS.length): void {
  const apply = db.transaction(() => {
    const current = db.pragma('user_version') as number;
    const goal = Math.min(target, MIGRATIONS.length);
    for (let version = current; version < goal; version++) {
      db.exec(MIGRATIONS[version]);
    }
    if (current < goal) db.pragma(`user_version = ${goal}`);
  });
  apply.immediate();
}

export const SCHEMA_VERSION = MIGRATIONS.length;
