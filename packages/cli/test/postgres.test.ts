import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresBroker } from '@durably/postgres';
import { durably, eventually, json, makeApp, WorkerProcess } from './harness.js';
import { PG_URL, postgresAvailable, sql, uniqueName } from './servers.js';

/** The durably binary on Postgres storage and the Postgres broker (one schema for this file). */
const available = await postgresAvailable();
const schema = uniqueName('durably_cli_');
const url = `${PG_URL.replace('postgres://root@', 'postgres://root:hunter2@')}?schema=${schema}`;
const app = makeApp({ storage: url, broker: url, workflows: ['./workflows.ts'], worker: { shutdownGrace: '1s' } });
const cwd = app.dir;
const run = (...args: string[]) => durably(args, { cwd });
let worker: WorkerProcess | undefined;

beforeAll(async () => {
  if (!available) return;
  worker = new WorkerProcess([], { cwd });
  await worker.waitFor((l) => l.msg === 'worker running', 'the worker');
}, 60_000);

afterAll(async () => {
  await worker?.stop('SIGTERM').catch(() => undefined);
  app.cleanup();
  if (available) await sql(`DROP SCHEMA IF EXISTS "${schema}" CASCADE; DROP SCHEMA IF EXISTS "${schema}_sql" CASCADE`);
});

describe.skipIf(!available)('durably on Postgres', () => {
  it('the worker logs the storage and broker with the password hidden', () => {
    const started = worker!.lines().find((l) => l.msg === 'worker started')!;
    expect(started.storage).toContain(`schema=${schema}`);
    expect(started.storage).toContain('root:***@');
    expect(worker!.stderr).not.toContain('hunter2');
  });

  it('starts, lists and shows runs; resumes a hook; sends a signal', async () => {
    const r = await run('start', 'fixture.hello', '--args', '["pg"]', '--wait', '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(json(r).result).toBe('hello pg');
    expect(r.stderr).not.toContain('hunter2');
    const listed = json(await run('runs', 'list', '--workflow', 'fixture.hello', '--json'));
    expect(listed.runs.map((x: { runId: string }) => x.runId)).toContain(json(r).runId);
    const shown = json(await run('runs', 'show', json(r).runId, '--json'));
    expect(shown.timeline.filter((t: { kind: string }) => t.kind === 'step')).toHaveLength(3);

    const { runId } = json(await run('start', 'fixture.approve', '--args', '["desk"]', '--json'));
    const token = await eventually(async () => json(await run('runs', 'show', runId, '--show-tokens', '--json')).hooks?.[0]?.token, 'the hook');
    expect((await run('hooks', 'resume', token, '--payload', '{"approved":false,"by":"bo"}')).code).toBe(0);
    expect((await run('signals', 'send', runId, 'note', '--payload', '"no budget"')).code).toBe(0);
    await eventually(async () => json(await run('runs', 'show', runId, '--json')).run.status === 'completed', 'the run');
  });

  it('dead letters from the Postgres broker are listed and retried', async () => {
    const broker = new PostgresBroker({ url: PG_URL, schema });
    await broker.publish('durably.default', '{"v":9}');
    const letters = await eventually(async () => {
      const l = json(await run('dead-letters', 'list', '--json'));
      return l.length ? l : undefined;
    }, 'the dead letter');
    expect(letters[0].reason).toContain('Unknown message shape');
    expect(json(await run('dead-letters', 'retry', '--all', '--json')).retried).toEqual([letters[0].id]);
    await broker.close();
  });

  it('migrate --print-sql prints an idempotent script that leaves nothing for migrate to do', async () => {
    const other = `${schema}_sql`;
    const printed = await durably(['migrate', '--print-sql', '--storage', `${PG_URL}?schema=${other}`], { cwd });
    expect(printed.code, printed.stderr).toBe(0);
    expect(printed.stdout).toContain(`CREATE TABLE IF NOT EXISTS "${other}".runs`);
    expect(printed.stdout).not.toContain('"msg"');
    await sql(printed.stdout);
    await sql(printed.stdout); // twice: idempotent
    const { rows } = await sql(`SELECT count(*)::int AS n FROM "${other}".schema_migrations`);
    expect(rows[0].n).toBeGreaterThanOrEqual(3);
    const migrated = await durably(['migrate', '--storage', `${PG_URL}?schema=${other}`, '--broker', 'memory:'], { cwd });
    expect(migrated.code, migrated.stderr).toBe(0);
    const after = await sql(`SELECT count(*)::int AS n FROM "${other}".schema_migrations`);
    expect(after.rows[0].n).toBe(rows[0].n);
  });

  it('doctor reports the Postgres round trips', async () => {
    const r = await run('doctor', '--json');
    expect(r.code, r.stdout).toBe(0);
    const checks = json(r).checks as Array<{ name: string; detail: string }>;
    expect(checks.find((c) => c.name === 'storage connection')!.detail).toMatch(/postgres:\/\/root:\*\*\*@.*round trip/);
    expect(checks.find((c) => c.name === 'broker connection')!.detail).toMatch(/publish-to-delivery \d+\.\d ms/);
  });

  it('on SIGTERM a Postgres worker exits (its connections closed)', async () => {
    expect(await worker!.stop('SIGTERM')).toBe(0);
  });
});
