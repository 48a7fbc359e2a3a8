import { createRequire } from 'node:module';
import { SqliteUnavailableError } from '@durably/contracts';

/**
 * The SQLite library under the embedded backend, behind the few calls it makes: prepared statements
 * with positional parameters, `exec`, IMMEDIATE transactions, `PRAGMA`, `close` (better-sqlite3's
 * shape, so the storage and the broker read the same with either library).
 *
 * Which library: Node's built-in `node:sqlite` when the runtime has it (Node >= 22.13, or 22.5-22.12
 * started with --experimental-sqlite), else the `better-sqlite3` package (an optional dependency of
 * @durably/local, so a user of server backends never builds a native addon). Both are synchronous
 * bindings of the same C library on the same file format, so the SQL, the WAL file, the locking
 * between processes and every guarantee of the backend are the same with either; two processes on
 * one file may even use different ones. `driver` in the backend's options forces one.
 *
 * Neither library's types are part of this package's declarations (better-sqlite3 may be absent and
 * `@types/node` 20 has no `node:sqlite`): the shapes used are declared here.
 */
export type SqliteDriverName = 'node:sqlite' | 'better-sqlite3';

export type SqlValue = string | number | bigint | null | Uint8Array;

export interface SqliteStatement {
  run(...params: SqlValue[]): { changes: number };
  get(...params: SqlValue[]): unknown;
  all(...params: SqlValue[]): unknown[];
}

export interface SqliteDatabase {
  readonly driver: SqliteDriverName;
  prepare(sql: string): SqliteStatement;
  exec(sql: string): void;
  /** `transaction(fn).immediate()` runs `fn` in one IMMEDIATE transaction (the write lock taken at once): committed when it returns, rolled back when it throws. */
  transaction<T>(fn: () => T): { immediate(): T };
  /** True while a transaction is open (false again once SQLite itself rolled one back after an error). */
  inTransaction(): boolean;
  /** Runs `PRAGMA <text>` and returns the first column of its first row (a setting's value). */
  pragma(text: string): unknown;
  close(): void;
}

interface NativeStatement {
  run(...params: SqlValue[]): { changes: number | bigint };
  get(...params: SqlValue[]): unknown;
  all(...params: SqlValue[]): unknown[];
}

interface BetterSqlite3Database {
  readonly inTransaction: boolean;
  prepare(sql: string): NativeStatement;
  exec(sql: string): unknown;
  transaction<T>(fn: () => T): { immediate(): T };
  pragma(text: string, options: { simple: true }): unknown;
  close(): unknown;
}

interface NodeSqliteDatabase {
  /** Node >= 22.16 / 24: whether a transaction is open. */
  readonly isTransaction?: boolean;
  prepare(sql: string): NativeStatement;
  exec(sql: string): void;
  close(): void;
}

const require = createRequire(import.meta.url);

/** Why a driver could not be loaded (kept to name it in SqliteUnavailableError), or its constructor. */
type Loaded<T> = { ok: true; open: (file: string) => T } | { ok: false; why: string; error: unknown };

let nodeSqlite: Loaded<NodeSqliteDatabase> | undefined;
let betterSqlite: Loaded<BetterSqlite3Database> | undefined;

function loadNodeSqlite(): Loaded<NodeSqliteDatabase> {
  if (nodeSqlite) return nodeSqlite;
  // Loading node:sqlite prints an ExperimentalWarning on the Node versions that have it; the engine
  // chose the library, not the user, so that one warning (and only it) is not passed on.
  const emitWarning = process.emitWarning;
  process.emitWarning = function (this: unknown, warning: string | Error, ...rest: unknown[]) {
    const text = typeof warning === 'string' ? warning : warning?.message;
    if (typeof text === 'string' && /^SQLite is an experimental feature/.test(text)) return;
    return (emitWarning as (...a: unknown[]) => void).call(process, warning, ...rest);
  } as typeof process.emitWarning;
  try {
    const { DatabaseSync } = require('node:sqlite') as { DatabaseSync: new (file: string) => NodeSqliteDatabase };
    nodeSqlite = { ok: true, open: (file) => new DatabaseSync(file) };
  } catch (error) {
    nodeSqlite = { ok: false, why: `node:sqlite is not in Node ${process.version}`, error };
  } finally {
    process.emitWarning = emitWarning;
  }
  return nodeSqlite;
}

function loadBetterSqlite(): Loaded<BetterSqlite3Database> {
  if (betterSqlite) return betterSqlite;
  try {
    const Database = require('better-sqlite3') as new (file: string) => BetterSqlite3Database;
    // The native addon loads on the first open, not on require: an addon built for another Node
    // version fails only there, so one in-memory database proves the library usable.
    new Database(':memory:').close();
    betterSqlite = { ok: true, open: (file) => new Database(file) };
  } catch (error) {
    const code = (error as { code?: string }).code;
    const why = code === 'MODULE_NOT_FOUND' ? 'the package better-sqlite3 is not installed' : `better-sqlite3 failed to load (${(error as Error).message})`;
    betterSqlite = { ok: false, why, error };
  }
  return betterSqlite;
}

/** The driver `open` would use without a choice: node:sqlite when present, else better-sqlite3, else none. */
export function defaultDriver(): SqliteDriverName | undefined {
  if (loadNodeSqlite().ok) return 'node:sqlite';
  if (loadBetterSqlite().ok) return 'better-sqlite3';
  return undefined;
}

/** The drivers this runtime can load, preferred first. */
export function availableDrivers(): SqliteDriverName[] {
  const out: SqliteDriverName[] = [];
  if (loadNodeSqlite().ok) out.push('node:sqlite');
  if (loadBetterSqlite().ok) out.push('better-sqlite3');
  return out;
}

/** Opens the database file with `driver`, or with the default one; SqliteUnavailableError when there is none. */
export function openSqlite(file: string, driver?: SqliteDriverName): SqliteDatabase {
  if (driver !== undefined && driver !== 'node:sqlite' && driver !== 'better-sqlite3') {
    throw new SqliteUnavailableError(file, `the driver ${JSON.stringify(driver)} is not one of "node:sqlite", "better-sqlite3"`);
  }
  const candidates: SqliteDriverName[] = driver ? [driver] : ['node:sqlite', 'better-sqlite3'];
  const failures: Array<{ why: string; error: unknown }> = [];
  for (const name of candidates) {
    if (name === 'node:sqlite') {
      const lib = loadNodeSqlite();
      if (lib.ok) return wrapNodeSqlite(lib.open(file));
      failures.push(lib);
    } else {
      const lib = loadBetterSqlite();
      if (lib.ok) return wrapBetterSqlite(lib.open(file));
      failures.push(lib);
    }
  }
  throw new SqliteUnavailableError(file, failures.map((f) => f.why).join('; '), failures.at(-1)?.error);
}

function wrapBetterSqlite(db: BetterSqlite3Database): SqliteDatabase {
  return {
    driver: 'better-sqlite3',
    // better-sqlite3's statements already have this shape (changes is a number).
    prepare: (sql) => db.prepare(sql) as SqliteStatement,
    exec: (sql) => void db.exec(sql),
    transaction: (fn) => db.transaction(fn),
    inTransaction: () => db.inTransaction,
    pragma: (text) => db.pragma(text, { simple: true }),
    close: () => void db.close(),
  };
}

/**
 * node:sqlite has no transaction helper: BEGIN IMMEDIATE / COMMIT, ROLLBACK on a throw, as
 * better-sqlite3's `transaction(fn).immediate()` does (a nested call becomes a savepoint, as there).
 */
function wrapNodeSqlite(db: NodeSqliteDatabase): SqliteDatabase {
  let depth = 0;
  // Set when undoing a savepoint failed because SQLite had already rolled the whole transaction back
  // (the versions without `isTransaction` tell it no other way).
  let lost = false;
  return {
    driver: 'node:sqlite',
    prepare: (sql) => statement(db.prepare(sql)),
    exec: (sql) => db.exec(sql),
    transaction: <T>(fn: () => T) => ({ immediate: () => immediate(fn) }),
    inTransaction: () => (typeof db.isTransaction === 'boolean' ? db.isTransaction : depth > 0 && !lost),
    pragma(text) {
      const row = db.prepare(`PRAGMA ${text}`).get() as Record<string, unknown> | undefined;
      return row === undefined ? undefined : Object.values(row)[0];
    },
    close: () => db.close(),
  };

  function immediate<T>(fn: () => T): T {
    const savepoint = depth === 0 ? undefined : `durably_tx_${depth}`;
    db.exec(savepoint ? `SAVEPOINT ${savepoint}` : 'BEGIN IMMEDIATE');
    if (!savepoint) lost = false;
    depth++;
    let result: T;
    try {
      result = fn();
      db.exec(savepoint ? `RELEASE ${savepoint}` : 'COMMIT');
    } catch (err) {
      try {
        db.exec(savepoint ? `ROLLBACK TO ${savepoint}; RELEASE ${savepoint}` : 'ROLLBACK');
      } catch {
        // SQLite already rolled the transaction back (a full disk, say): nothing is left to undo.
        if (savepoint) lost = true;
      }
      throw err;
    } finally {
      depth--;
    }
    return result;
  }
}

function statement(s: NativeStatement): SqliteStatement {
  return {
    run: (...params) => ({ changes: Number(s.run(...params).changes) }),
    get: (...params) => s.get(...params),
    all: (...params) => s.all(...params),
  };
}
