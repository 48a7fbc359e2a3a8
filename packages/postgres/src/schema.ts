import { createHash } from 'node:crypto';
import pg from 'pg';
import { DurablyError, InvalidArgumentError, InvalidUrlError, StorageError, parseServerUrl, redactUrl } from '@durably/contracts';

/** Options shared by the Postgres storage and broker. */
export interface PostgresOptions {
  /** Connection string (`postgres://user:pass@host:5432/db`). Ignored when `pool` is given. */
  url?: string;
  /** A pool you already have; it is not closed by close(). */
  pool?: pg.Pool;
  /** Schema holding Durably's tables, so that several apps can share a database. Default "durably". */
  schema?: string;
  /** Pool size when the adapter creates the pool. Default 10. */
  max?: number;
}

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

export function checkSchema(schema: string): string {
  if (!IDENTIFIER.test(schema)) {
    throw new InvalidArgumentError(`Postgres schema ${JSON.stringify(schema)} is invalid: use 1-63 lowercase letters, digits and "_", starting with a letter or "_".`);
  }
  return schema;
}

/**
 * A LISTEN/NOTIFY channel name for a schema. Channel names are identifiers (at most 63 bytes): a
 * schema too long for the prefix is replaced by a hash of it.
 */
export function channelName(prefix: string, schema: string): string {
  const name = `${prefix}_${schema}`;
  return name.length <= 63 ? name : `${prefix}_${createHash('sha1').update(schema).digest('hex').slice(0, 24)}`;
}

export const POSTGRES_URL_EXAMPLE = 'postgres://user:password@host:5432/database?schema=durably';

/**
 * Parses `postgres://...?schema=x&max=n`: the Durably options are removed from what pg sees. A URL
 * that cannot be parsed throws InvalidUrlError (a ConfigError) naming the part at fault.
 */
export function optionsFromUrl(url: string): PostgresOptions {
  const u = parseServerUrl(url, POSTGRES_URL_EXAMPLE);
  const schema = u.searchParams.get('schema') ?? undefined;
  const max = u.searchParams.get('max');
  if (max !== null && !/^[1-9]\d{0,3}$/.test(max)) {
    throw new InvalidUrlError(redactUrl(url), 'query', `"max=${max}" must be a pool size from 1 to 9999`, POSTGRES_URL_EXAMPLE);
  }
  u.searchParams.delete('schema');
  u.searchParams.delete('max');
  return { url: u.toString(), schema, max: max === null ? undefined : Number(max) };
}

/** A pool owned by the adapter or lent by the user, with the address for error messages. */
export class Connection {
  readonly pool: pg.Pool;
  readonly owned: boolean;
  readonly address: string;
  readonly schema: string;

  constructor(options: PostgresOptions) {
    this.schema = checkSchema(options.schema ?? 'durably');
    if (options.pool) {
      this.pool = options.pool;
      this.owned = false;
      this.address = 'the given pg.Pool';
    } else {
      if (!options.url) throw new InvalidArgumentError('Postgres adapter: give a connection string (url) or a pg.Pool (pool).');
      parseServerUrl(options.url, POSTGRES_URL_EXAMPLE);
      this.pool = new pg.Pool({ connectionString: options.url, max: options.max ?? 10 });
      // An idle client losing its connection (a server restart) must not crash the process.
      this.pool.on('error', () => undefined);
      this.owned = true;
      this.address = redactUrl(options.url);
    }
  }

  /** Runs a query, wrapping driver errors with the address tried. */
  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>> {
    try {
      return await this.pool.query<R>(text, values);
    } catch (err) {
      throw this.wrap(err);
    }
  }

  /**
   * Runs a hot query as a named prepared statement: each connection parses and plans it once, then
   * reuses the plan (the append's CTE chain costs more to plan than to run).
   */
  async prepared<R extends pg.QueryResultRow = pg.QueryResultRow>(name: string, text: string, values: unknown[]): Promise<pg.QueryResult<R>> {
    try {
      return await this.pool.query<R>({ name: `${this.schema}:${name}`, text, values });
    } catch (err) {
      throw this.wrap(err);
    }
  }

  /** Runs `fn` in a transaction on one client. */
  async transaction<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw this.wrap(err);
    }
    guardClient(client);
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw this.wrap(err);
    } finally {
      client.release();
    }
  }

  wrap(err: unknown): Error {
    if (err instanceof DurablyError) return err;
    const message = (err as Error)?.message ?? String(err);
    const code = (err as { code?: string })?.code ?? '';
    if (/^(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH)$/.test(code) || /timeout expired|Connection terminated/i.test(message)) {
      return new StorageError(`Postgres at ${this.address} is unreachable: ${message}. Check that the server runs and that the host and port are right (${POSTGRES_URL_EXAMPLE}).`, { cause: err });
    }
    if (code === '28P01' || code === '28000') return new StorageError(`Postgres at ${this.address} refused the login: ${message}. Check the user and password in the URL.`, { cause: err });
    if (code === '3D000') return new StorageError(`Postgres at ${this.address}: ${message}. Create the database (createdb) or name an existing one in the URL.`, { cause: err });
    return new StorageError(`Postgres at ${this.address} failed: ${message}`, { cause: err });
  }

  async close(): Promise<void> {
    if (this.owned) await this.pool.end().catch(() => undefined);
  }
}

const guarded = new WeakSet<object>();

/**
 * A checked-out client whose connection drops (a server restart) emits 'error' besides failing its
 * query; without a listener that would be an uncaught exception. The failed query reports it.
 */
export function guardClient(client: { on(event: 'error', listener: (err: Error) => void): unknown }): void {
  if (guarded.has(client)) return;
  guarded.add(client);
  client.on('error', () => undefined);
}

/**
 * Ordered migrations; the index of each is its version. Never edit one that shipped: add another.
 * `$S` stands for the quoted schema name.
 */
const MIGRATIONS: string[] = [
  `
  CREATE TABLE IF NOT EXISTS $S.runs (
    run_id text PRIMARY KEY,
    workflow text NOT NULL,
    status text NOT NULL,
    queue text NOT NULL,
    args text NOT NULL,
    result text,
    error jsonb,
    idempotency_key text UNIQUE,
    parent_run_id text,
    created_at bigint NOT NULL,
    updated_at bigint NOT NULL,
    start_at bigint,
    finished_at bigint,
    last_seq integer NOT NULL
  );
  CREATE INDEX IF NOT EXISTS runs_created ON $S.runs (created_at DESC, run_id DESC);
  CREATE INDEX IF NOT EXISTS runs_workflow ON $S.runs (workflow, created_at DESC, run_id DESC);
  CREATE INDEX IF NOT EXISTS runs_status ON $S.runs (status, created_at DESC, run_id DESC);
  CREATE INDEX IF NOT EXISTS runs_unfinished ON $S.runs (updated_at) WHERE status IN ('pending', 'running');
  CREATE INDEX IF NOT EXISTS runs_parent ON $S.runs (parent_run_id, created_at DESC, run_id DESC) WHERE parent_run_id IS NOT NULL;
  CREATE INDEX IF NOT EXISTS runs_finished ON $S.runs (finished_at) WHERE finished_at IS NOT NULL;
  CREATE TABLE IF NOT EXISTS $S.events (
    run_id text NOT NULL,
    seq integer NOT NULL,
    type text NOT NULL,
    correlation_id text,
    at bigint NOT NULL,
    data text NOT NULL,
    PRIMARY KEY (run_id, seq)
  );
  CREATE TABLE IF NOT EXISTS $S.timers (
    run_id text NOT NULL,
    timer_id text NOT NULL,
    fire_at bigint NOT NULL,
    lease_until bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, timer_id)
  );
  CREATE INDEX IF NOT EXISTS timers_due ON $S.timers (fire_at);
  CREATE TABLE IF NOT EXISTS $S.hooks (
    token text PRIMARY KEY,
    run_id text NOT NULL,
    correlation_id text NOT NULL,
    name text NOT NULL,
    created_at bigint NOT NULL,
    expires_at bigint,
    consumed_at bigint
  );
  CREATE INDEX IF NOT EXISTS hooks_run ON $S.hooks (run_id);
  CREATE TABLE IF NOT EXISTS $S.schedules (
    schedule_id text PRIMARY KEY,
    record jsonb NOT NULL,
    paused boolean NOT NULL,
    next_fire_at bigint,
    buffered boolean NOT NULL DEFAULT false,
    version integer NOT NULL,
    lease_until bigint NOT NULL DEFAULT 0
  );
  CREATE INDEX IF NOT EXISTS schedules_due ON $S.schedules (next_fire_at) WHERE NOT paused;
  CREATE TABLE IF NOT EXISTS $S.concurrency_slots (
    key text NOT NULL,
    run_id text NOT NULL,
    PRIMARY KEY (key, run_id)
  );
  CREATE INDEX IF NOT EXISTS concurrency_slots_run ON $S.concurrency_slots (run_id);
  CREATE TABLE IF NOT EXISTS $S.rate_permits (
    key text PRIMARY KEY,
    win bigint NOT NULL,
    used integer NOT NULL
  );
  CREATE TABLE IF NOT EXISTS $S.messages (
    id text PRIMARY KEY,
    queue text NOT NULL,
    body text NOT NULL,
    available_at bigint NOT NULL,
    delivery_count integer NOT NULL DEFAULT 0,
    dedup_key text,
    created_at bigint NOT NULL
  );
  CREATE INDEX IF NOT EXISTS messages_ready ON $S.messages (queue, available_at);
  CREATE UNIQUE INDEX IF NOT EXISTS messages_dedup ON $S.messages (queue, dedup_key) WHERE dedup_key IS NOT NULL AND delivery_count = 0;
  CREATE TABLE IF NOT EXISTS $S.dead_letters (
    id text PRIMARY KEY,
    queue text NOT NULL,
    body text NOT NULL,
    reason text NOT NULL,
    delivery_count integer NOT NULL,
    at bigint NOT NULL
  );
  CREATE INDEX IF NOT EXISTS dead_letters_queue ON $S.dead_letters (queue, at);
  `,
  `
  ALTER TABLE $S.runs ADD COLUMN IF NOT EXISTS tags text[];
  CREATE INDEX IF NOT EXISTS runs_tags ON $S.runs USING gin (tags) WHERE tags IS NOT NULL;
  `,
  `
  CREATE TABLE IF NOT EXISTS $S.checkpoints (
    run_id text NOT NULL,
    step_id text NOT NULL,
    value text NOT NULL,
    PRIMARY KEY (run_id, step_id)
  );
  `,
  // Idempotency keys become unique per workflow: the column's own UNIQUE constraint (named by
  // Postgres's default rule in version 1) gives way to a unique index on (workflow, key).
  `
  CREATE UNIQUE INDEX IF NOT EXISTS runs_idempotency ON $S.runs (workflow, idempotency_key) WHERE idempotency_key IS NOT NULL;
  ALTER TABLE $S.runs DROP CONSTRAINT IF EXISTS runs_idempotency_key_key;
  `,
  // Search attributes: a jsonb column, merged by the append's own UPDATE (so an append stays one
  // statement), and a GIN index (jsonb_path_ops) that serves listRuns' typed containment test
  // attributes @> '{"customer":"c-42"}'; jsonb keeps the number 1 and the string "1" apart.
  `
  ALTER TABLE $S.runs ADD COLUMN IF NOT EXISTS attributes jsonb;
  CREATE INDEX IF NOT EXISTS runs_attributes ON $S.runs USING gin (attributes jsonb_path_ops) WHERE attributes IS NOT NULL;
  `,
];

/**
 * The schema version this release writes: the number of migrations. `migrate()` records each applied
 * version in the schema's `schema_migrations` table and applies the ones missing, in order.
 */
export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * The SQL that `migrate()` runs, as one script for a DBA to review and apply (`durably migrate
 * --print-sql`). Like `migrate()` it takes the same advisory lock and records each version in
 * schema_migrations, and each migration runs only when its version is not recorded yet, so the
 * script is safe to run more than once and leaves nothing for `migrate()` to do.
 */
export function migrationScript(schema = 'durably'): string {
  const name = checkSchema(schema);
  const S = `"${name}"`;
  const lines = [
    `-- Durably's PostgreSQL schema ${S}, version ${MIGRATIONS.length}.`,
    '-- Idempotent: each migration runs only if schema_migrations does not record it yet.',
    'BEGIN;',
    `SELECT pg_advisory_xact_lock(hashtext('durably:migrate:${name}'));`,
    `CREATE SCHEMA IF NOT EXISTS ${S};`,
    `CREATE TABLE IF NOT EXISTS ${S}.schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now());`,
  ];
  MIGRATIONS.forEach((sql, i) => {
    const version = i + 1;
    const body = sql.replaceAll('$S', S).trim().replace(/^ {2}/gm, '      ');
    lines.push(
      '',
      `-- migration ${version}`,
      `DO $durably$ BEGIN`,
      `  IF NOT EXISTS (SELECT 1 FROM ${S}.schema_migrations WHERE version = ${version}) THEN`,
      `    EXECUTE $migration$`,
      `      ${body}`,
      `    $migration$;`,
      `    INSERT INTO ${S}.schema_migrations (version) VALUES (${version});`,
      `  END IF;`,
      `END $durably$;`,
    );
  });
  lines.push('', 'COMMIT;', '');
  return lines.join('\n');
}

/**
 * Creates the schema and applies missing migrations under a transaction-scoped advisory lock, so
 * processes migrating at once serialize and the later ones find nothing to do. `target` stops at an
 * older version (tests of the upgrade path use it).
 */
export async function migrate(conn: Connection, target = MIGRATIONS.length): Promise<void> {
  const S = `"${conn.schema}"`;
  await conn.transaction(async (client) => {
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`durably:migrate:${conn.schema}`]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${S}`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${S}.schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`);
    const { rows } = await client.query<{ v: number | null }>(`SELECT max(version) AS v FROM ${S}.schema_migrations`);
    const current = rows[0]?.v ?? 0;
    for (let version = current; version < Math.min(target, MIGRATIONS.length); version++) {
      await client.query(MIGRATIONS[version].replaceAll('$S', S));
      await client.query(`INSERT INTO ${S}.schema_migrations (version) VALUES ($1)`, [version + 1]);
    }
  });
}
