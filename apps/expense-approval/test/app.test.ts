import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, expect, it } from 'vitest';

const exec = promisify(execFile);
const appDir = resolve(import.meta.dirname, '..');
const dirs: string[] = [];
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function embedded(): Record<string, string> {
  const dir = mkdtempSync(join(tmpdir(), 'durably-expense-'));
  dirs.push(dir);
  return { DURABLY_STORAGE: `file:${dir}`, DURABLY_BROKER: 'local:' };
}

const appArgs = (args: string[]) => ['--import', 'tsx', '--conditions=@durably/source', join(appDir, 'src/main.ts'), ...args];
const envOf = (env: Record<string, string>) => ({ ...process.env, DURABLY_LOG_LEVEL: 'error', ...env });

/** The app as `npm start -- ...args` runs it, with its output read as it comes. */
function startApp(env: Record<string, string>, args: string[]) {
  const child = spawn(process.execPath, appArgs(args), { cwd: appDir, env: envOf(env) });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d));
  child.stderr.on('data', (d: Buffer) => (stderr += d));
  const exited = new Promise<number | null>((r) => child.once('exit', r));
  return {
    output: () => stdout,
    exited,
    /** Waits for a line of stdout matching `pattern` (after `from` characters) and returns its match. */
    async waitFor(pattern: RegExp, from = 0, timeoutMs = 45_000): Promise<RegExpExecArray> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const m = pattern.exec(stdout.slice(from));
        if (m) return m;
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`no ${pattern} in the output (exit ${child.exitCode}):\n${stdout}\n${stderr}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}

/** The repository's durably command, as the README runs it from this folder: `[echo input |] npm run durably -- ...args`. */
function durably(env: Record<string, string>, args: string[], input = ''): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('npm', ['run', '--silent', 'durably', '--', ...args], { cwd: appDir, env: envOf(env) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve({ stdout, stderr });
      else reject(Object.assign(new Error(`durably ${args.join(' ')} exited ${code}: ${stderr}`), { code, stdout, stderr }));
    });
    child.stdin.end(input);
  });
}

it('plays every role on the embedded default: amended, escalated on timeout, approved by the second approver', async () => {
  const { stdout } = await exec(process.execPath, appArgs(['--id', 'e-demo']), { cwd: appDir, env: envOf(embedded()), timeout: 60_000 });
  const order = [
    /^expense e-demo: conference trip, \$150\.00, run \S+ \(each approver has 3s\)$/,
    /email to manager@example\.com: approve e-demo \(conference trip\) for \$150\.00\? from sam@example\.com$/,
    /sam@example\.com amends the amount to \$120\.00 \(no reason given\)$/,
    /rejected before it reached the run: the payload does not match its schema: reason: String must contain at least 1 character\(s\)$/,
    /sam@example\.com amends the amount to \$120\.00: the hotel refunded a night$/,
    /email to manager@example\.com: e-demo was amended from \$150\.00 to \$120\.00: the hotel refunded a night$/,
    /the run answers: accepted, the amount is now \$120\.00$/,
    /email to sam@example\.com: e-demo: no decision from manager@example\.com within 3s; asked finance@example\.com$/,
    /email to finance@example\.com: \[escalated\] approve e-demo \(conference trip\) for \$120\.00\?/,
    /^result: expense e-demo approved by finance@example\.com for \$120\.00 \(amended from \$150\.00\), after escalation$/,
  ];
  const lines = stdout.trim().split('\n');
  let at = 0;
  for (const pattern of order) {
    const index = lines.findIndex((l, i) => i >= at && pattern.test(l));
    expect(index, `${pattern} in order in:\n${stdout}`).toBeGreaterThanOrEqual(0);
    at = index + 1;
  }
  expect(lines.at(-1)).toMatch(order.at(-1)!);
});

it('is resumed from the CLI: amendments by `durably updates send` answered (accepted, refused, rejected), a bad answer refused by the CLI or, sent unchecked, asked again, a decision by `durably hooks resume`', { timeout: 150_000 }, async () => {
  const env = embedded();
  const app = startApp(env, ['--manual', '--id', 'e-cli', '--timeout', '2m']);
  const runId = (await app.waitFor(/run (\S+) \(each approver has 2m\)/))[1];
  const first = await app.waitFor(/decide \(as manager@example\.com\): echo (\S+) \| npm run durably -- hooks resume - --payload/);

  const sent = await durably(env, ['updates', 'send', runId, 'amend', '--payload', '{"amount": 120, "reason": "the hotel refunded a night"}', '--json']);
  expect(JSON.parse(sent.stdout)).toEqual({ runId, update: 'amend', result: { accepted: true, amount: 120 } });
  await app.waitFor(/e-cli was amended from \$150\.00 to \$120\.00/);
  // The run's state says no: an answer, recorded in the log.
  const same = await durably(env, ['updates', 'send', runId, 'amend', '--payload', '{"amount": 120, "reason": "again"}']);
  expect(same.stdout).toContain(`update "amend" answered by run ${runId}`);
  expect(same.stdout).toContain('the amount is unchanged');
  // The schema says no, in the CLI (it loads the app's workflows from durably.config.ts): exit 2, only the rejection written.
  const rejected = (await durably(env, ['updates', 'send', runId, 'amend', '--payload', '{"amount": -5, "reason": "oops"}']).catch((e: unknown) => e)) as { code: number; stderr: string };
  expect(rejected.code).toBe(2);
  expect(rejected.stderr).toContain('Update "amend" to run');
  expect(rejected.stderr).toContain('amount: Number must be greater than 0');

  // Not a decision: the CLI, which loads the app's workflows, checks the hook's schema and refuses it
  // (exit 2, nothing written, the token still good).
  const refused = (await durably(env, ['hooks', 'resume', '-', '--payload', '{"approved": "yes"}'], first[1]).catch((e: unknown) => e)) as { code: number; stderr: string };
  expect(refused.code).toBe(2);
  expect(refused.stderr).toContain('approved: Expected boolean, received string; by: Required');
  // Sent unchecked (as a caller without the app's definitions would), it reaches the workflow: the token
  // is used up, and the workflow asks again with a new one.
  const mark = app.output().length;
  await durably(env, ['hooks', 'resume', '-', '--no-load', '--payload', '{"approved": "yes"}'], first[1]);
  const again = await app.waitFor(/could not be read: approved: Expected boolean, received string; by: Required; please answer again\)\n\s+decide \(as manager@example\.com\): echo (\S+) \| npm run durably -- hooks resume - --payload/, mark);
  expect(again[1]).not.toBe(first[1]);
  const used = (await durably(env, ['hooks', 'resume', '-', '--payload', '{"approved": true, "by": "manager@example.com"}'], first[1]).catch((e: unknown) => e)) as { code: number; stderr: string };
  expect(used.code).toBe(6); // a used token: not possible now
  expect(used.stderr).toContain('was already resumed');

  const resumed = await durably(env, ['hooks', 'resume', '-', '--payload', '{"approved": true, "by": "manager@example.com"}'], again[1]);
  expect(resumed.stdout).toContain(`hook resumed; run ${runId} continues`);
  expect(await app.exited).toBe(0);
  expect(app.output().trim().split('\n').at(-1)).toBe('result: expense e-cli approved by manager@example.com for $120.00 (amended from $150.00)');
});

it('escalates when the first approver times out, and the second approver decides from the dashboard', async () => {
  const app = startApp(embedded(), ['--manual', '--dashboard', '--dashboard-port', '0', '--id', 'e-dash', '--timeout', '2s']);
  const [, url, runId] = await app.waitFor(/dashboard: (http:\/\/127\.0\.0\.1:\d+)\/runs\/(\S+) /);
  await app.waitFor(/email to finance@example\.com: \[escalated\] approve e-dash/);
  // What the run page's hook form does: the hook by its position in the run (the page never sees tokens).
  const detail = (await (await fetch(`${url}/api/runs/${runId}`)).json()) as { hooks: Array<{ correlationId: string; status: string; tokenHint: string }> };
  const waiting = detail.hooks.filter((h) => h.status === 'waiting');
  expect(detail.hooks.map((h) => h.status)).toEqual(['timed_out', 'waiting']);
  const res = await fetch(`${url}/api/runs/${runId}/hooks/resume`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ correlationId: waiting[0].correlationId, payload: { approved: false, by: 'finance@example.com', note: 'no receipts' } }),
  });
  expect(res.status).toBe(200);
  expect(await app.exited).toBe(0);
  expect(app.output().trim().split('\n').at(-1)).toBe('result: expense e-dash rejected by finance@example.com for $150.00, after escalation');
});

it('expires when neither approver decides', async () => {
  const app = startApp(embedded(), ['--manual', '--id', 'e-late', '--timeout', '500ms']);
  expect(await app.exited).toBe(0);
  expect(app.output()).toContain('email to sam@example.com: e-late expired: no decision from manager@example.com or finance@example.com');
  expect(app.output().trim().split('\n').at(-1)).toBe('result: expense e-late expired: nobody decided, even after escalation; $150.00');
});

it('runs on Redis storage and broker by DURABLY_STORAGE and DURABLY_BROKER alone', async () => {
  const url = process.env.DURABLY_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0';
  const prefix = `durably-expense-${Date.now().toString(36)}-${process.pid}`;
  const { Redis } = await import('ioredis');
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
  } catch (err) {
    if (process.env.CI) throw err;
    return; // no server outside CI: nothing to run against
  }
  try {
    const target = `${url}?prefix=${prefix}`;
    const { stdout } = await exec(process.execPath, appArgs(['--id', 'e-redis']), { cwd: appDir, env: envOf({ DURABLY_STORAGE: target, DURABLY_BROKER: target }), timeout: 60_000 });
    expect(stdout.trim().split('\n').at(-1)).toBe('result: expense e-redis approved by finance@example.com for $120.00 (amended from $150.00), after escalation');
    const keys = await redis.keys(`{${prefix}}:run:*`);
    expect(keys).toHaveLength(1);
    expect(await redis.hget(keys[0], 'status')).toBe('completed');
  } finally {
    const keys = await redis.keys(`{${prefix}}:*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  }
});
