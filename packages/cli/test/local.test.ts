import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { LocalBroker, parseHistory, replayRunLog } from '@durably/core';
import { durably, eventually, json, makeApp, WorkerProcess } from './harness.js';
import { hello } from './fixtures/workflows.js';

/**
 * The durably binary against the embedded local backend: one worker subprocess for the file, and
 * every command run against it as a user would.
 */
const app = makeApp({
  storage: 'file:./.durably',
  broker: 'local:',
  workflows: ['./workflows.ts'],
  worker: { concurrency: 8, http: { port: 0 }, shutdownGrace: '1s', timerSweepInterval: '200ms' },
});
const cwd = app.dir;
let worker: WorkerProcess;
let ops: string;
const run = (...args: string[]) => durably(args, { cwd });

beforeAll(async () => {
  worker = new WorkerProcess([], { cwd });
  const line = await worker.waitFor((l) => l.msg === 'operations endpoint listening', 'the operations endpoint');
  ops = String(line.url);
  await worker.waitFor((l) => l.msg === 'worker running', 'the worker');
}, 60_000);

afterAll(async () => {
  await worker?.stop('SIGKILL').catch(() => undefined);
  app.cleanup();
});

describe('durably on the local backend', () => {
  it('the worker logs, at info, the storage and broker it uses', () => {
    const started = worker.lines().find((l) => l.msg === 'worker started')!;
    expect(started.storage).toBe(`file://${join(cwd, '.durably')}`);
    expect(started.broker).toBe('local:');
    expect(started.concurrency).toBe(8);
  });

  let helloRun: string;
  it('start --wait runs a workflow to its result; the worker logs its start, a step retry, its completion; the workflow logger does not repeat lines on replay', async () => {
    const r = await run('start', 'fixture.hello', '--args', '["ana"]', '--wait', '--timeout', '30s', '--json');
    expect(r.code, r.stderr).toBe(0);
    const out = json(r);
    expect(out).toMatchObject({ workflow: 'fixture.hello', status: 'completed', result: 'hello ana' });
    helloRun = out.runId;
    expect(r.stderr).toContain('"msg":"connected"');
    await worker.waitFor((l) => l.msg === 'run completed' && l.runId === helloRun, 'run completed');
    const mine = worker.lines().filter((l) => l.runId === helloRun);
    expect(mine.find((l) => l.msg === 'run started')).toMatchObject({ workflow: 'fixture.hello', queue: 'default' });
    expect(mine.find((l) => l.msg === 'step attempt failed; it will be retried')).toMatchObject({ workflow: 'fixture.hello', step: 'fixture.flaky', attempt: 1, maxAttempts: 3 });
    expect(mine.find((l) => l.msg === 'run completed')).toMatchObject({ workflow: 'fixture.hello' });
    // The run replayed after its sleep; the line before the sleep was logged once.
    expect(mine.filter((l) => l.msg === 'fixture: before the sleep')).toHaveLength(1);
    expect(mine.filter((l) => l.msg === 'fixture: after the sleep')).toHaveLength(1);
  });

  it('runs show prints the step timeline: each attempt, the retry, the sleep', async () => {
    const r = await run('runs', 'show', helloRun, '--json');
    expect(r.code, r.stderr).toBe(0);
    const { run: record, timeline } = json(r);
    expect(record).toMatchObject({ runId: helloRun, status: 'completed', args: ['ana'], result: 'hello ana' });
    expect(timeline.map((t: { kind: string; name: string; attempt?: number; outcome: string }) => [t.kind, t.name, t.attempt, t.outcome])).toEqual([
      ['step', 'fixture.greet', 1, 'completed'],
      ['step', 'fixture.flaky', 1, 'retry'],
      ['step', 'fixture.flaky', 2, 'completed'],
      ['sleep', 'sleep', undefined, 'completed'],
    ]);
    const sleep = timeline.find((t: { kind: string }) => t.kind === 'sleep');
    expect(sleep.end - sleep.start).toBeGreaterThanOrEqual(290);
    const human = await run('runs', 'show', helloRun);
    expect(human.stdout).toMatch(/fixture\.flaky\s+1\s+\+\S+\s+\S+\s+retry\s+█/);
    expect(human.stdout).toMatch(/sleep\s+sleep\s+\+\S+\s+3\d\dms\s+completed\s+░*/);
  });

  it('runs events prints the log in order', async () => {
    const r = await run('runs', 'events', helloRun, '--json');
    const events = json(r) as Array<{ seq: number; type: string }>;
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(events[0].type).toBe('run_created');
    expect(events.at(-1)!.type).toBe('run_completed');
    const table = await run('runs', 'events', helloRun);
    expect(table.stdout).toMatch(/SEQ\s+AT\s+TYPE/);
  });

  it('runs export writes the run history to a file (or stdout) that replays against the code; unknown run: exit 5; unwritable file: exit 2', async () => {
    const r = await run('runs', 'export', helloRun, '--json');
    expect(r.code, r.stderr).toBe(0);
    const out = json(r);
    expect(out).toMatchObject({ runId: helloRun, file: join(cwd, `${helloRun}.history.json`), runs: 1 });
    const history = parseHistory(readFileSync(out.file, 'utf8'));
    const events = json(await run('runs', 'events', helloRun, '--json')) as Array<{ seq: number }>;
    expect(history).toMatchObject({ format: 'durably.run-history', formatVersion: 1, run: { runId: helloRun, workflow: 'fixture.hello', status: 'completed' } });
    expect(history.events.map((e) => e.seq)).toEqual(events.map((e) => e.seq));
    expect(out.events).toBe(events.length);
    // Payloads stay as stored (Serialized strings), so a replay reads exactly what the worker wrote.
    expect(typeof history.events.find((e) => e.type === 'step_completed')!.data).toBe('object');
    expect(await replayRunLog(hello.definition, history.run, history.events)).toEqual({ ok: true });

    const piped = await run('runs', 'export', helloRun, '--out', '-');
    expect(piped.code, piped.stderr).toBe(0);
    expect(parseHistory(piped.stdout).events).toHaveLength(events.length);

    const human = await run('runs', 'export', helloRun, '--out', 'hello.json', '--follow');
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toContain(`exported run ${helloRun} (${events.length} events) to hello.json`);

    const missing = await run('runs', 'export', 'no-such-run');
    expect(missing.code).toBe(5);
    expect(missing.stderr).toContain('no-such-run');
    const unwritable = await run('runs', 'export', helloRun, '--out', join(cwd, 'no-such-dir', 'x.json'));
    expect(unwritable.code).toBe(2);
    expect(unwritable.stderr).toMatch(/Cannot write .*no-such-dir.*--out/);
  });

  it('runs list filters by workflow, status, tag and time, and pages with a cursor', async () => {
    for (const n of [1, 2, 3]) expect((await run('start', 'fixture.tagged', '--args', String(n), '--tag', 'batch')).code).toBe(0);
    await eventually(async () => {
      const page = json(await run('runs', 'list', '--workflow', 'fixture.tagged', '--status', 'completed', '--json'));
      return page.runs.length === 3;
    }, 'three tagged runs completed');
    const tagged = json(await run('runs', 'list', '--tag', 'fixture', '--tag', 'batch', '--since', '1h', '--json'));
    expect(tagged.runs).toHaveLength(3);
    expect(tagged.runs.every((r: { tags: string[] }) => r.tags.includes('fixture') && r.tags.includes('batch'))).toBe(true);
    expect(json(await run('runs', 'list', '--until', '1h', '--json')).runs).toHaveLength(0);
    const first = json(await run('runs', 'list', '--workflow', 'fixture.tagged', '--limit', '2', '--json'));
    expect(first.runs).toHaveLength(2);
    expect(first.nextCursor).toBeTruthy();
    const second = json(await run('runs', 'list', '--workflow', 'fixture.tagged', '--limit', '2', '--cursor', first.nextCursor, '--json'));
    expect(second.runs).toHaveLength(1);
    expect(new Set([...first.runs, ...second.runs].map((r: { runId: string }) => r.runId)).size).toBe(3);
    const human = await run('runs', 'list', '--workflow', 'fixture.tagged', '--limit', '2');
    expect(human.stdout).toMatch(/RUN ID\s+WORKFLOW\s+STATUS/);
    expect(human.stdout).toContain('more: durably runs list --cursor');
    const bad = await run('runs', 'list', '--status', 'finished');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--status "finished" is not a status');
  });

  it('runs list --attribute filters by typed search attributes; runs show prints them', async () => {
    for (const [customer, amount] of [['c-42', 120], ['c-42', 80], ['c-7', 120]] as const) {
      expect((await run('start', 'fixture.attributed', '--args', JSON.stringify([customer, amount]))).code).toBe(0);
    }
    await eventually(async () => json(await run('runs', 'list', '--workflow', 'fixture.attributed', '--status', 'completed', '--json')).runs.length === 3, 'three attributed runs completed');
    const ids = async (...filters: string[]) => json(await run('runs', 'list', ...filters.flatMap((f) => ['--attribute', f]), '--json')).runs as Array<{ runId: string; attributes: Record<string, unknown> }>;
    expect((await ids('customer=c-42')).map((r) => r.attributes.amount).sort()).toEqual([120, 80]);
    const both = await ids('customer=c-42', 'amount=120');
    expect(both).toHaveLength(1);
    expect(both[0].attributes).toEqual({ customer: 'c-42', amount: 120, big: true });
    expect(await ids('big=true')).toHaveLength(2);
    // "120" in quotes is the string, which no run has; 120 is the number.
    expect(await ids('amount="120"')).toHaveLength(0);
    const shown = await run('runs', 'show', both[0].runId);
    expect(shown.stdout).toContain('customer=c-42, amount=120, big=true');
    const bad = await run('runs', 'list', '--attribute', 'customer');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('write key=value');
    const badKey = await run('runs', 'list', '--attribute', '9x=1');
    expect(badKey.code).toBe(2);
    expect(badKey.stderr).toContain('"9x" is invalid');
  });

  it('hooks resume delivers a payload (the token never reaches the logs), signals send delivers a signal', async () => {
    const started = json(await run('start', 'fixture.approve', '--args', '["laptop"]', '--json'));
    const runId = started.runId as string;
    const hooks = await eventually(async () => {
      const shown = json(await run('runs', 'show', runId, '--show-tokens', '--json'));
      return shown.hooks?.length ? shown.hooks : undefined;
    }, 'the hook');
    const token = hooks[0].token as string;
    expect(token.length).toBeGreaterThanOrEqual(22);
    const events = await run('runs', 'events', runId);
    expect(events.stdout).not.toContain(token);
    expect(events.stdout).toContain('(hidden: --show-tokens)');

    const wrong = await run('hooks', 'resume', 'not-a-token', '--payload', '{}');
    expect(wrong.code).toBe(5);
    expect(wrong.stderr).toContain('No hook has this token');
    // The config's workflow modules are loaded: the hook's schema refuses a bad payload, and nothing is written.
    const before = json(await run('runs', 'events', runId, '--json')).length;
    const refused = await run('hooks', 'resume', token, '--payload', '{"approved":"yes"}');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('expected { approved: boolean, by: string }');
    expect(json(await run('runs', 'events', runId, '--json'))).toHaveLength(before);
    const resumed = await durably(['hooks', 'resume', '-', '--payload', '{"approved":true,"by":"ana"}'], { cwd, input: `${token}\n` });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toContain(`run ${runId} continues`);
    const again = await run('hooks', 'resume', token, '--payload', '{"approved":false,"by":"bo"}');
    expect(again.code).toBe(6);
    expect(again.stderr).toContain('already resumed');

    const sent = await run('signals', 'send', runId, 'note', '--payload', '"fine"');
    expect(sent.code, sent.stderr).toBe(0);
    const done = await eventually(async () => {
      const shown = json(await run('runs', 'show', runId, '--json'));
      return shown.run.status === 'completed' ? shown.run : undefined;
    }, 'the approved run');
    expect(done.result).toEqual({ item: 'laptop', approved: true, by: 'ana', note: 'fine' });
    expect(worker.stderr).not.toContain(token);
    expect(resumed.stderr).not.toContain(token);
  });

  it('updates send prints the answer; a payload the validator refuses exits 2; the same --update-id is not delivered twice', async () => {
    const { runId } = json(await run('start', 'fixture.counter', '--args', '[5]', '--json'));
    const first = await run('updates', 'send', runId, 'fixture.raise', '--payload', '2', '--update-id', 'raise-1', '--timeout', '30s', '--json');
    expect(first.code, first.stderr).toBe(0);
    expect(json(first)).toEqual({ runId, update: 'fixture.raise', result: 2 });
    const again = await run('updates', 'send', runId, 'fixture.raise', '--payload', '2', '--update-id', 'raise-1', '--json');
    expect(json(again).result).toBe(2);
    const refused = await run('updates', 'send', runId, 'fixture.raise', '--payload', '-1');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('raise by a positive integer, not -1');
    const human = await run('updates', 'send', runId, 'fixture.raise', '--payload', '3');
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toContain(`update "fixture.raise" answered by run ${runId}`);
    expect(human.stdout).toContain('5');
    const done = await eventually(async () => {
      const shown = json(await run('runs', 'show', runId, '--json'));
      return shown.run.status === 'completed' ? shown.run : undefined;
    }, 'the counter run');
    expect(done.result).toBe(5);
    const events = json(await run('runs', 'events', runId, '--json'));
    const kinds = (events as Array<{ type: string }>).map((e) => e.type);
    expect(kinds.filter((t: string) => t === 'update_requested')).toHaveLength(2);
    expect(kinds.filter((t: string) => t === 'update_rejected')).toHaveLength(1);
  });

  it('hooks resume resumes a multi-use hook once per call, in order; once the workflow closed it, the token is refused', async () => {
    const runId = json(await run('start', 'fixture.collect', '--json')).runId as string;
    const hooks = await eventually(async () => {
      const shown = json(await run('runs', 'show', runId, '--show-tokens', '--json'));
      return shown.hooks?.length ? shown.hooks : undefined;
    }, 'the hook');
    const token = hooks[0].token as string;
    for (const sku of ['a-1', 'b-2']) {
      const resumed = await run('hooks', 'resume', token, '--payload', JSON.stringify({ sku }));
      expect(resumed.code, resumed.stderr).toBe(0);
    }
    const done = await eventually(async () => {
      const shown = json(await run('runs', 'show', runId, '--json'));
      return shown.run.status === 'completed' ? shown.run : undefined;
    }, 'the collecting run');
    expect(done.result).toEqual(['a-1', 'b-2']);
    const closed = await run('hooks', 'resume', token, '--payload', '{"sku":"c-3"}');
    expect(closed.code).toBe(6);
    expect(closed.stderr).toContain('closed by its workflow');
    expect(worker.stderr).not.toContain(token);
  });

  it('a failing run exits start --wait with 7; the worker logs the step failure and the run failure', async () => {
    const r = await run('start', 'fixture.failing', '--wait');
    expect(r.code).toBe(7);
    expect(r.stderr).toContain('this step always fails');
    await worker.waitFor((l) => l.msg === 'run failed' && l.workflow === 'fixture.failing', 'run failed');
    expect(worker.lines().find((l) => l.msg === 'step failed')).toMatchObject({ step: 'fixture.broken', attempt: 1 });
  });

  it('runs cancel ends a sleeping run; cancelling it again is refused (exit 6)', async () => {
    const { runId } = json(await run('start', 'fixture.napping', '--json'));
    await eventually(async () => json(await run('runs', 'show', runId, '--json')).run.status === 'suspended', 'the nap');
    const c = await run('runs', 'cancel', runId, '--reason', 'test over');
    expect(c.code, c.stderr).toBe(0);
    await eventually(async () => json(await run('runs', 'show', runId, '--json')).run.status === 'cancelled', 'the cancellation');
    const again = await run('runs', 'cancel', runId);
    expect(again.code).toBe(6);
    expect(again.stderr).toContain('has already finished');
    const missing = await run('runs', 'show', 'no-such-run');
    expect(missing.code).toBe(5);
  });

  it('schedules: create, list, pause, resume, trigger, backfill, delete', async () => {
    const created = await run('schedules', 'create', 'hourly', '--workflow', 'fixture.tagged', '--cron', '0 * * * *', '--args', '[21]', '--json');
    expect(created.code, created.stderr).toBe(0);
    const list = json(await run('schedules', 'list', '--json'));
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ scheduleId: 'hourly', workflow: 'fixture.tagged', args: [21], paused: false });
    expect((await run('schedules', 'pause', 'hourly')).code).toBe(0);
    expect((await run('schedules', 'list')).stdout).toMatch(/hourly\s+fixture\.tagged\s+0 \* \* \* \*.*paused/);
    expect((await run('schedules', 'resume', 'hourly')).code).toBe(0);
    const triggered = json(await run('schedules', 'trigger', 'hourly', '--json'));
    await eventually(async () => json(await run('runs', 'show', triggered.runId, '--json')).run.result === 42, 'the triggered run');
    const backfill = await run('schedules', 'backfill', 'hourly', '--from', '3h', '--json');
    expect(backfill.code, backfill.stderr).toBe(0);
    expect(json(backfill).runIds).toHaveLength(3);
    expect(backfill.stderr).toContain('backfilled hourly: 3 runs started');
    const again = json(await run('schedules', 'backfill', 'hourly', '--from', '3h', '--json'));
    expect(again.runIds).toHaveLength(0);
    expect((await run('schedules', 'delete', 'hourly')).code).toBe(0);
    expect(json(await run('schedules', 'list', '--json'))).toHaveLength(0);
    const gone = await run('schedules', 'delete', 'hourly');
    expect(gone.code).toBe(5);
    const both = await run('schedules', 'create', 'x', '--workflow', 'fixture.tagged', '--cron', '* * * * *', '--every', '1m');
    expect(both.code).toBe(2);
  });

  it('dead-letters list shows a poison task; retry puts it back on its queue', async () => {
    const broker = new LocalBroker({ path: join(cwd, '.durably') });
    await broker.publish('durably.default', 'not a task');
    const letters = await eventually(async () => {
      const l = json(await run('dead-letters', 'list', '--json'));
      return l.length ? l : undefined;
    }, 'the dead letter');
    expect(letters[0]).toMatchObject({ queue: 'default', body: 'not a task', task: null });
    expect(letters[0].reason).toContain('Undecodable');
    await worker.waitFor((l) => l.msg === 'message dead-lettered', 'the dead-letter log line');
    const table = await run('dead-letters', 'list');
    expect(table.stdout).toMatch(/undecodable/);
    const retried = await run('dead-letters', 'retry', letters[0].id, '--json');
    expect(retried.code, retried.stderr).toBe(0);
    expect(json(retried).retried).toEqual([letters[0].id]);
    // Poison again: the worker dead-letters it again, once.
    await eventually(async () => (await worker.lines()).filter((l) => l.msg === 'message dead-lettered').length === 2, 'the second dead letter');
    expect(json(await run('dead-letters', 'list', '--json'))).toHaveLength(1);
    const missing = await run('dead-letters', 'retry', 'nope');
    expect(missing.code).toBe(5);
    await broker.close();
  });

  it('serves /healthz, /readyz and Prometheus metrics on the opt-in HTTP port', async () => {
    expect((await fetch(`${ops}/healthz`)).status).toBe(200);
    const ready = await fetch(`${ops}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ ready: true });
    const res = await fetch(`${ops}/metrics`);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    expect(text).toMatch(/^durably_runs_started_total\{workflow="fixture.hello"\} [1-9]/m);
    expect(text).toMatch(/^durably_runs_completed_total\{workflow="fixture.hello"\} [1-9]/m);
    expect(text).toMatch(/^durably_runs_failed_total\{workflow="fixture.failing"\} [1-9]/m);
    expect(text).toMatch(/^durably_step_attempts_total\{step="fixture.flaky",outcome="retry"\} [1-9]/m);
    expect(text).toMatch(/^durably_step_attempt_duration_seconds_bucket\{le="0.005",step="fixture.greet",outcome="completed"\} \d+/m);
    expect(text).toMatch(/^durably_queue_lag_seconds_count\{queue="durably.default",kind="run"\} [1-9]/m);
    expect(text).toMatch(/^durably_run_suspensions_total\{workflow="fixture.approve"\} [1-9]/m);
    expect(text).toMatch(/^durably_dead_letters_total\{queue="durably.default"\} [1-9]/m);
    expect(text).toMatch(/^durably_dead_letter_queue_messages\{queue="default"\} 1/m);
    expect(text).toMatch(/^process_cpu_user_seconds_total /m);
    expect((await fetch(`${ops}/nope`)).status).toBe(404);
  });

  it('doctor checks the config and connects to storage and broker', async () => {
    const r = await run('doctor', '--json');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const report = json(r);
    expect(report.ok).toBe(true);
    const names = report.checks.map((c: { name: string }) => c.name);
    expect(names).toEqual(expect.arrayContaining(['node', 'versions', 'config file', 'storage', 'broker', 'workflows', 'storage connection', 'broker connection']));
    expect(report.checks.find((c: { name: string }) => c.name === 'storage connection').detail).toMatch(/round trip \d+\.\d ms/);
    expect(report.versions['@durably/core']).toBe('0.1.0');
    const human = await run('doctor');
    expect(human.stdout).toContain('All checks passed.');
    expect((await run('migrate')).code).toBe(0);
  });

  it('retention prune deletes finished runs older than the period, with progress', async () => {
    const before = json(await run('runs', 'list', '--status', 'completed', '--json')).runs.length;
    expect(before).toBeGreaterThan(0);
    const kept = json(await run('retention', 'prune', '--older-than', '1h', '--json'));
    expect(kept.deleted).toBe(0);
    const r = await run('retention', 'prune', '--older-than', '0s', '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(json(r).deleted).toBeGreaterThanOrEqual(before);
    expect(r.stderr).toContain('deleted');
    expect(json(await run('runs', 'list', '--status', 'completed', '--json')).runs).toHaveLength(0);
    expect(json(await run('runs', 'list', '--status', 'suspended', '--json')).runs.length).toBeGreaterThanOrEqual(0);
  });

  it('on SIGTERM the worker stops taking work, hands back what it holds after the grace period, and exits 0', async () => {
    const { runId } = json(await run('start', 'fixture.slow', '--args', '20000', '--json'));
    await worker.waitFor((l) => l.msg === 'run started' && l.runId === runId, 'the slow run');
    const t = Date.now();
    const code = await worker.stop('SIGTERM');
    expect(code).toBe(0);
    expect(Date.now() - t).toBeLessThan(10_000);
    const lines = worker.lines();
    expect(lines.find((l) => l.msg === 'handed back in-flight work')).toMatchObject({ runs: 1 });
    expect(lines.find((l) => l.msg === 'worker stopped')).toBeTruthy();
  });
});
