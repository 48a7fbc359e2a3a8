import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteUnavailableError } from '@durably/contracts';
import { LocalStorage, availableDrivers, defaultDriver } from '../src/index.js';
import { openSqlite } from '../src/sqlite/driver.js';

const run = promisify(execFile);
const hidePackages = join(import.meta.dirname, '../../../tools/scripts/hide-packages.mjs');
const openByUrl = join(import.meta.dirname, 'fixtures/open-by-url.ts');

/** Whether this runtime has node:sqlite, asked of Node directly. */
function runtimeHasNodeSqlite(): boolean {
  try {
    createRequire(import.meta.url)('node:sqlite');
    return true;
  } catch {
    return false;
  }
}

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'durably-driver-'));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** Runs the fixture in a child process with `hide` (comma-separated packages) made unresolvable. */
async function openInChild(url: string, hide: string, driver?: string): Promise<Record<string, unknown>> {
  const { stdout } = await run(
    process.execPath,
    ['--import', 'tsx', '--import', pathToFileURL(hidePackages).href, openByUrl, url, ...(driver ? [driver] : [])],
    { env: { ...process.env, DURABLY_TEST_HIDE: hide, NODE_OPTIONS: '--conditions=@durably/source' }, timeout: 60_000 },
  );
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
}

describe('the SQLite library', () => {
  it('is node:sqlite where the runtime has it, else better-sqlite3 (installed in this repository)', () => {
    const expected = runtimeHasNodeSqlite() ? 'node:sqlite' : 'better-sqlite3';
    expect(defaultDriver()).toBe(expected);
    expect(availableDrivers()[0]).toBe(expected);
  });

  it('commits a transaction that returns and rolls back one that throws, on every available library', () => {
    for (const driver of availableDrivers()) {
      const db = openSqlite(join(tempDir(), 'tx.db'), driver);
      try {
        db.exec('CREATE TABLE t (k TEXT PRIMARY KEY)');
        expect(db.transaction(() => db.prepare('INSERT INTO t VALUES (?)').run('a').changes).immediate()).toBe(1);
        expect(() =>
          db
            .transaction(() => {
              db.prepare('INSERT INTO t VALUES (?)').run('b');
              throw new Error('abort');
            })
            .immediate(),
        ).toThrow('abort');
        // A nested transaction is a savepoint: its failure undoes only its own writes.
        db.transaction(() => {
          db.prepare('INSERT INTO t VALUES (?)').run('c');
          expect(() => db.transaction(() => db.prepare('INSERT INTO t VALUES (?)').run('c')).immediate()).toThrow();
        }).immediate();
        expect(db.prepare('SELECT k FROM t ORDER BY k').all().map((r) => (r as { k: string }).k)).toEqual(['a', 'c']);
        expect(db.pragma('user_version')).toBe(0);
        expect(db.driver).toBe(driver);
      } finally {
        db.close();
      }
    }
  });

  it('refuses a driver name it does not know, naming the known ones', async () => {
    const listing = new LocalStorage({ path: tempDir(), driver: 'sqlite3' as never }).listSchedules();
    await expect(listing).rejects.toBeInstanceOf(SqliteUnavailableError);
    await expect(listing).rejects.toThrow(/"sqlite3" is not one of "node:sqlite", "better-sqlite3"/);
  });
});

describe('without better-sqlite3', () => {
  it('opens file: through the engine on node:sqlite where the runtime has it, else says what to install', async () => {
    const dir = tempDir();
    const result = await openInChild(`file:${dir}`, 'better-sqlite3');
    if (runtimeHasNodeSqlite()) {
      expect(result).toEqual({ ok: true, driver: 'node:sqlite' });
    } else {
      expect(result).toMatchObject({ name: 'SqliteUnavailableError', code: 'SQLITE_UNAVAILABLE' });
      expect(result.message).toContain('the package better-sqlite3 is not installed');
      expect(result.message).toContain('Run: npm install better-sqlite3');
      expect(result.message).toContain(`node:sqlite is not in Node ${process.version}`);
    }
  });

  it('says what to install when better-sqlite3 is asked for and absent', async () => {
    const result = await openInChild(`file:${tempDir()}`, 'better-sqlite3', 'better-sqlite3');
    expect(result).toMatchObject({ name: 'SqliteUnavailableError', code: 'SQLITE_UNAVAILABLE' });
    expect(result.message).toMatch(/needs a SQLite driver and found none: the package better-sqlite3 is not installed\. Run: npm install better-sqlite3/);
  });

  it('is a typed error a caller can test for', () => {
    const err = new SqliteUnavailableError('/data/durably.db', 'the package better-sqlite3 is not installed');
    expect(err).toBeInstanceOf(SqliteUnavailableError);
    expect(err.code).toBe('SQLITE_UNAVAILABLE');
    expect(err.path).toBe('/data/durably.db');
  });
});
