import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { BIN, cleanEnv, durably, HIDE_PACKAGES, makeApp, WorkerProcess } from './harness.js';

/**
 * Every configuration error the CLI can meet: one line with the fix, and the exit code of its kind
 * (3 configuration, 4 unreachable, 2 usage). No worker runs here.
 */
const apps: Array<{ cleanup(): void }> = [];
function app(config?: object | string, name?: string) {
  const a = makeApp(config, name);
  apps.push(a);
  return a.dir;
}
afterAll(() => apps.forEach((a) => a.cleanup()));

function oneLineError(stderr: string): string {
  const errors = stderr.split('\n').filter((l) => l.startsWith('error:'));
  expect(errors).toHaveLength(1);
  return errors[0];
}

describe('durably: configuration errors', () => {
  it('an unknown key names the nearest known key (exit 3)', async () => {
    const r = await durably(['runs', 'list'], { cwd: app({ stroage: 'file:./.durably' }) });
    expect(r.code).toBe(3);
    expect(oneLineError(r.stderr)).toMatch(/unknown key "stroage"\. Did you mean "storage"\?/);
  });

  it('an unknown nested key names the nearest known key of its object', async () => {
    const r = await durably(['runs', 'list'], { cwd: app({ worker: { concurency: 4 } }) });
    expect(r.code).toBe(3);
    expect(oneLineError(r.stderr)).toMatch(/unknown key "worker\.concurency"\. Did you mean "worker\.concurrency"\?/);
  });

  it('a wrong type says which field and what it expects', async () => {
    const r = await durably(['runs', 'list'], { cwd: app({ worker: { concurrency: 'ten' } }) });
    expect(r.code).toBe(3);
    expect(oneLineError(r.stderr)).toMatch(/"worker\.concurrency" must be a whole number >= 1; got "ten" \(a string\)/);
    const d = await durably(['runs', 'list'], { cwd: app({ worker: { staleAfter: 'soon' } }) });
    expect(d.code).toBe(3);
    expect(d.stderr).toMatch(/"worker\.staleAfter" must be a duration such as "30s"/);
  });

  it('an unknown scheme suggests the nearest and names where it was set', async () => {
    const r = await durably(['runs', 'list'], { cwd: app(), env: { DURABLY_STORAGE: 'postgress://localhost/db' } });
    expect(r.code).toBe(3);
    const line = oneLineError(r.stderr);
    expect(line).toMatch(/Unknown storage scheme "postgress:".*Did you mean "postgres:"\?/);
    expect(line).toContain('(set by DURABLY_STORAGE)');
  });

  it('a missing adapter package names the npm package to install', async () => {
    const r = await durably(['runs', 'list', '--broker', 'amqp://guest:secret@127.0.0.1:5672'], {
      cwd: app(),
      env: { NODE_OPTIONS: `--import ${HIDE_PACKAGES}`, DURABLY_TEST_HIDE: '@durably/rabbitmq' },
    });
    expect(r.code).toBe(3);
    const line = oneLineError(r.stderr);
    expect(line).toContain('needs the package @durably/rabbitmq');
    expect(line).toContain('npm install @durably/rabbitmq');
    expect(line).not.toContain('secret');
  });

  it('a malformed URL is named with where it was set, password hidden', async () => {
    const r = await durably(['runs', 'list'], { cwd: app({ storage: 'postgres://u:pw@:notaport/db' }) });
    expect(r.code).toBe(3);
    const line = oneLineError(r.stderr);
    expect(line).toMatch(/Invalid URL "postgres:\/\/u:\*\*\*@:notaport\/db": the port "notaport" is not a number\. Expected a URL such as postgres:\/\/user:password@host:5432\/database\?schema=durably\. \(set by .*durably\.config\.json: storage\)$/);
    expect(line).not.toContain(':pw@');
  });

  it('an unreachable Postgres gets one line naming the address tried (exit 4)', async () => {
    const r = await durably(['runs', 'list', '--storage', 'postgres://root:secret@127.0.0.1:1/test', '--broker', 'memory:', '--connect-timeout', '5s'], { cwd: app() });
    expect(r.code).toBe(4);
    const line = oneLineError(r.stderr);
    expect(line).toMatch(/Cannot reach the storage postgres:\/\/root:\*\*\*@127\.0\.0\.1:1\/test \(set by --storage\)/);
    expect(line).toContain('ECONNREFUSED');
  });

  it('an unreachable Redis gets one line within the connect timeout (exit 4)', async () => {
    const r = await durably(['runs', 'list', '--storage', 'memory:', '--broker', 'redis://127.0.0.1:1', '--connect-timeout', '2s'], { cwd: app() });
    expect(r.code).toBe(4);
    expect(oneLineError(r.stderr)).toMatch(/Cannot reach the broker redis:\/\/127\.0\.0\.1:1 \(set by --broker\)/);
  });

  it('a --config that does not exist, two config files, and bad JSON are configuration errors', async () => {
    const missing = await durably(['runs', 'list', '--config', 'nope.json'], { cwd: app() });
    expect(missing.code).toBe(3);
    expect(oneLineError(missing.stderr)).toMatch(/The config file .*nope\.json \(from --config\) does not exist/);

    const two = app({ storage: 'memory:' });
    writeFileSync(join(two, 'durably.config.mjs'), 'export default {}');
    const both = await durably(['runs', 'list'], { cwd: two });
    expect(both.code).toBe(3);
    expect(oneLineError(both.stderr)).toMatch(/Found 2 config files in .*durably\.config\.mjs, durably\.config\.json\. Keep one/);

    const bad = await durably(['runs', 'list'], { cwd: app('{ "storage": ', 'durably.config.json') });
    expect(bad.code).toBe(3);
    expect(oneLineError(bad.stderr)).toMatch(/durably\.config\.json is not valid JSON/);
  });

  it('an invalid DURABLY_LOG_LEVEL is refused; a misspelled DURABLY_ variable is warned about', async () => {
    const level = await durably(['runs', 'list', '--storage', 'memory:', '--broker', 'memory:'], { cwd: app(), env: { DURABLY_LOG_LEVEL: 'verbose' } });
    expect(level.code).toBe(3);
    expect(oneLineError(level.stderr)).toMatch(/DURABLY_LOG_LEVEL is "verbose"; use one of debug, info, warn, error, silent/);

    const typo = await durably(['runs', 'list', '--storage', 'memory:', '--broker', 'memory:'], { cwd: app(), env: { DURABLY_STORGE: 'postgres://x/y' } });
    expect(typo.code).toBe(0);
    expect(typo.stderr).toContain('The environment variable DURABLY_STORGE is not read by Durably. Did you mean DURABLY_STORAGE?');
  });

  it('a durably.config.ts is loaded, and a config in a parent directory serves a subdirectory (file: paths relative to the config)', async () => {
    const root = app(`import { defineConfig } from '@durably/core';\nexport default defineConfig({ storage: 'file:./shared-data', broker: 'memory:' });\n`, 'durably.config.ts');
    const sub = join(root, 'apps', 'one');
    mkdirSync(sub, { recursive: true });
    const r = await durably(['doctor', '--json'], { cwd: sub });
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as { checks: Array<{ name: string; detail: string }> };
    expect(report.checks.find((c) => c.name === 'config file')!.detail).toBe(join(root, 'durably.config.ts'));
    expect(report.checks.find((c) => c.name === 'storage')!.detail).toContain(`file:${join(root, 'shared-data')}`);
  });

  it('usage errors exit 2: unknown option, bad JSON in --args', async () => {
    const unknown = await durably(['runs', 'list', '--colour'], { cwd: app() });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown option '--colour'");
    const badArgs = await durably(['start', 'x', '--args', '{oops', '--storage', 'memory:', '--broker', 'memory:'], { cwd: app() });
    expect(badArgs.code).toBe(2);
    expect(oneLineError(badArgs.stderr)).toMatch(/--args is not valid JSON/);
  });

  it('durably dashboard names the package to install when it is absent', async () => {
    const r = await durably(['dashboard', '--storage', 'memory:', '--broker', 'memory:'], {
      cwd: app(),
      env: { NODE_OPTIONS: `--import ${HIDE_PACKAGES}`, DURABLY_TEST_HIDE: '@durably/dashboard' },
    });
    expect(r.code).toBe(3);
    expect(oneLineError(r.stderr)).toBe('error: durably dashboard needs the package @durably/dashboard, which is not installed. Run: npm install @durably/dashboard');
  });

  it('durably dashboard serves @durably/dashboard over the configured storage until SIGINT', async () => {
    const dir = app({ storage: 'file:./.durably', broker: 'local:' });
    const child = spawn(process.execPath, ['--conditions=@durably/source', BIN, 'dashboard', '--port', '0', '--json'], { cwd: dir, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (d) => (stdout += d));
    const exited = new Promise<number | null>((r) => child.on('exit', r));
    const deadline = Date.now() + 60_000;
    while (!stdout.includes('"url"') && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 100));
    const { url } = JSON.parse(stdout) as { url: string };
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const health = await fetch(`${url}/api/health`);
    expect(health.status).toBe(200);
    const runs = await fetch(`${url}/api/runs`);
    expect(runs.status).toBe(200);
    child.kill('SIGINT');
    expect(await exited).toBe(0);
  });

  it('migrate --print-sql refuses a storage without SQL', async () => {
    const r = await durably(['migrate', '--print-sql', '--storage', 'memory:', '--broker', 'memory:'], { cwd: app() });
    expect(r.code).toBe(2);
    expect(oneLineError(r.stderr)).toMatch(/--print-sql prints the SQL of a SQL storage \(postgres:\/\/\); the storage memory: is migrated/);
  });

  it('durably worker loads workflows from a module path, takes --concurrency and --queue, and exits 0 on SIGINT', async () => {
    const dir = app();
    const worker = new WorkerProcess(['./workflows.ts', '--concurrency', '3', '--queue', 'default,email', '--storage', 'memory:', '--broker', 'memory:'], { cwd: dir });
    const running = await worker.waitFor((l) => l.msg === 'worker running', 'the worker');
    expect(running.workflows).toEqual(expect.arrayContaining(['fixture.hello', 'fixture.approve', 'fixture.slow']));
    expect(worker.lines().find((l) => l.msg === 'worker started')).toMatchObject({ concurrency: 3, queues: ['default', 'email'], storage: 'memory:', broker: 'memory:' });
    expect(await worker.stop('SIGINT')).toBe(0);
  });

  it('durably worker refuses a missing module, a glob that matches nothing, and modules that export no workflow', async () => {
    const dir = app();
    writeFileSync(join(dir, 'empty.ts'), 'export const nothing = 1;\n');
    const missing = await durably(['worker', './nope.ts', '--storage', 'memory:', '--broker', 'memory:'], { cwd: dir });
    expect(missing.code).toBe(3);
    expect(oneLineError(missing.stderr)).toMatch(/The workflow module .*nope\.ts does not exist/);
    const glob = await durably(['worker', './src/*.ts', '--storage', 'memory:', '--broker', 'memory:'], { cwd: dir });
    expect(glob.code).toBe(3);
    expect(oneLineError(glob.stderr)).toMatch(/The glob .*src\/\*\.ts matches no file/);
    const none = await durably(['worker', './empty.ts', '--storage', 'memory:', '--broker', 'memory:'], { cwd: dir });
    expect(none.code).toBe(3);
    expect(oneLineError(none.stderr)).toMatch(/No workflow is exported by .*empty\.ts/);
    const nothing = await durably(['worker', '--storage', 'memory:', '--broker', 'memory:'], { cwd: dir });
    expect(nothing.code).toBe(3);
    expect(oneLineError(nothing.stderr)).toMatch(/No workflows to run/);
  });

  it('every command has --help with examples', async () => {
    for (const cmd of [['worker'], ['start'], ['runs', 'list'], ['runs', 'show'], ['runs', 'events'], ['runs', 'cancel'], ['hooks', 'resume'], ['signals', 'send'], ['schedules', 'create'], ['schedules', 'backfill'], ['dead-letters', 'retry'], ['migrate'], ['retention', 'prune'], ['doctor'], ['dashboard']]) {
      const r = await durably([...cmd, '--help'], { cwd: app() });
      expect(r.code, cmd.join(' ')).toBe(0);
      expect(r.stdout, cmd.join(' ')).toContain('Examples:');
    }
  });
});
