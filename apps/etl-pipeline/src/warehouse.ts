/**
 * The destination: a table in a SQLite file (better-sqlite3, already the embedded default's driver).
 * Rows are upserted by id, so a load that writes a row twice (an attempt that died after the write,
 * before its checkpoint) leaves one row.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

export interface Fact {
  id: number;
  customer: string;
  usdCents: number;
  taxCents: number;
  large: boolean;
}

const open = new Map<string, Database.Database>();

function db(file: string): Database.Database {
  let d = open.get(file);
  if (!d) {
    mkdirSync(dirname(file), { recursive: true });
    d = new Database(file);
    d.pragma('journal_mode = WAL');
    d.exec('CREATE TABLE IF NOT EXISTS facts (job TEXT NOT NULL, id INTEGER NOT NULL, customer TEXT NOT NULL, usd_cents INTEGER NOT NULL, tax_cents INTEGER NOT NULL, large INTEGER NOT NULL, PRIMARY KEY (job, id))');
    open.set(file, d);
  }
  return d;
}

/** Injected failure: the connection drops once, after this many rows of a load. */
let dropOnceAfter: number | undefined;
export function dropConnectionOnce(afterRows: number | undefined): void {
  dropOnceAfter = afterRows;
}

export function upsert(file: string, job: string, fact: Fact, rowNumber: number): void {
  if (dropOnceAfter !== undefined && rowNumber > dropOnceAfter) {
    dropOnceAfter = undefined;
    throw new Error(`warehouse connection reset after ${rowNumber - 1} rows`);
  }
  db(file)
    .prepare('INSERT INTO facts (job, id, customer, usd_cents, tax_cents, large) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (job, id) DO UPDATE SET customer = excluded.customer, usd_cents = excluded.usd_cents, tax_cents = excluded.tax_cents, large = excluded.large')
    .run(job, fact.id, fact.customer, fact.usdCents, fact.taxCents, fact.large ? 1 : 0);
}

export function count(file: string, job: string): { rows: number; usdCents: number } {
  const r = db(file).prepare('SELECT COUNT(*) AS rows, COALESCE(SUM(usd_cents), 0) AS usdCents FROM facts WHERE job = ?').get(job) as { rows: number; usdCents: number };
  return r;
}

export function closeWarehouses(): void {
  for (const d of open.values()) d.close();
  open.clear();
}
