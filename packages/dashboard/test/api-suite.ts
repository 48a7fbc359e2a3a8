import { Client, createLogger, createWorker, type Worker } from '@durably/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { brokerQueueName } from '../src/server/routes-ops.js';
import { startDashboard, type RunDetailResponse, type RunningDashboard } from '../src/index.js';
import type { Backend } from './backends.js';
import { allWorkflows, failingFlow, loopFlow, notifyCustomer, orderFlow, readingsFlow, signalFlow } from './workflows.js';

/** Polls until `check` returns a value (not undefined/false), or fails after `ms`. */
export async function until<T>(what: string, check: () => Promise<T | undefined | false>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * The HTTP API over one storage and broker, through real HTTP requests to a dashboard started on a
 * free port, with a real worker running the runs it shows and acts on.
 */
export function apiSuite(name: string, backend: () => Backend): void {
  describe(`dashboard HTTP API on ${name}`, () => {
    let b: Backend;
    let client: Client;
    let worker: Worker;
    let dashboard: RunningDashboard;
    const runs: Record<string, string> = {};

    const call = async (path: string, init: RequestInit = {}) => {
      const res = await fetch(dashboard.url + path, init);
      const text = await res.text();
      return { status: res.status, headers: res.headers, text, body: text ? JSON.parse(text) : undefined };
    };
    const post = (path: string, body: unknown = {}) => call(path, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    const detail = async (runId: string) => (await call(`/api/runs/${runId}`)).body as RunDetailResponse;

    beforeAll(async () => {
      b = backend();
      client = new Client({ storage: b.storage, broker: b.broker });
      worker = createWorker({ client, workflows: allWorkflows, logger: createLogger('error'), concurrency: 4 });
      await worker.start();
      dashboard = await startDashboard({ client, port: 0, logger: createLogger('error') });
      runs.order = (await client.startWith(orderFlow, [{ id: 'o-1', items: ['a', 'b'], total: 1250n }], { tags: ['vip'] })).runId;
      runs.order2 = (await client.start(orderFlow, { id: 'o-2', items: ['c'], total: 5n })).runId;
      runs.signal = (await client.start(signalFlow)).runId;
      runs.toCancel = (await client.start(signalFlow)).runId;
      runs.failing = (await client.start(failingFlow)).runId;
      runs.loop = (await client.start(loopFlow, 0)).runId;
      await client.schedules.create('dash-hourly', notifyCustomer, { every: '1h', args: ['from-schedule'] });
      // Not the engine's envelope: the worker dead-letters it at once.
      await b.broker.publish(brokerQueueName('default'), 'this is not a task');
    });

    afterAll(async () => {
      await dashboard?.close();
      await worker?.stop();
      await client?.close();
      await b?.cleanup();
    });

    it('answers health', async () => {
      const res = await call('/api/health');
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ ok: true, storage: { ok: true }, version: '0.1.0' });
    });

    it('lists runs with filters by workflow, status, tags and time, and pages with a cursor', async () => {
      await until('the failing run to fail', async () => (await client.getRun(runs.failing).status()) === 'failed');
      const all = await call('/api/runs?limit=100');
      expect(all.status).toBe(200);
      const ids = all.body.runs.map((r: { runId: string }) => r.runId);
      for (const id of [runs.order, runs.order2, runs.signal, runs.failing, runs.loop]) expect(ids).toContain(id);

      const byWorkflow = await call('/api/runs?workflow=dash.order');
      expect(byWorkflow.body.runs.map((r: { runId: string }) => r.runId).sort()).toEqual([runs.order, runs.order2].sort());
      const failed = await call('/api/runs?status=failed');
      expect(failed.body.runs.map((r: { runId: string }) => r.runId)).toEqual([runs.failing]);
      const several = await call('/api/runs?status=failed,completed&workflow=dash.failing');
      expect(several.body.runs).toHaveLength(1);
      const tagged = await call('/api/runs?tags=vip,shop');
      expect(tagged.body.runs.map((r: { runId: string }) => r.runId)).toEqual([runs.order]);
      expect(tagged.body.runs[0].tags.sort()).toEqual(['shop', 'vip']);
      const byAttributes = await call(`/api/runs?attributes=${encodeURIComponent('order=o-1,items=2')}`);
      expect(byAttributes.body.runs.map((r: { runId: string }) => r.runId)).toEqual([runs.order]);
      expect(byAttributes.body.runs[0].attributes).toEqual({ order: 'o-1', items: 2 });
      const oneItem = await call(`/api/runs?attributes=items=1&workflow=dash.order`);
      expect(oneItem.body.runs.map((r: { runId: string }) => r.runId)).toEqual([runs.order2]);
      // "1" in quotes is the string, which no run has: the number 1 is not it.
      expect((await call(`/api/runs?attributes=${encodeURIComponent('items="1"')}`)).body.runs).toEqual([]);
      const future = await call(`/api/runs?createdAfter=${new Date(Date.now() + 60_000).toISOString()}`);
      expect(future.body.runs).toEqual([]);
      await until('the loop chain to finish', async () => (await client.getRunChain(runs.loop)).at(-1)!.status === 'completed');
      const loops = await call(`/api/runs?createdBefore=${Date.now() + 60_000}&createdAfter=2020-01-01T00:00:00Z&workflow=dash.loop`);
      expect(loops.body.runs.length).toBe(3);

      // Paging: a page at a time, newest first, each run once.
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await call(`/api/runs?workflow=dash.loop&limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
        expect(page.body.runs.length).toBe(1);
        seen.push(...page.body.runs.map((r: { runId: string }) => r.runId));
        cursor = page.body.nextCursor;
        pages++;
      } while (cursor && pages < 10);
      expect(seen).toEqual(loops.body.runs.map((r: { runId: string }) => r.runId));
    });

    it('counts runs by status', async () => {
      const counts = await call('/api/runs/counts?workflow=dash.failing');
      expect(counts.status).toBe(200);
      expect(counts.body.counts.failed).toEqual({ count: 1, atLeast: false });
      expect(counts.body.counts.completed).toEqual({ count: 0, atLeast: false });
    });

    it('refuses bad input with 400 and a message naming the field', async () => {
      const cases: Array<[string, RegExp]> = [
        ['/api/runs?limit=0', /query\.limit: must be at least 1/],
        ['/api/runs?limit=abc', /query\.limit/],
        ['/api/runs?status=bogus', /query\.status\.0: must be one of pending, running/],
        ['/api/runs?createdAfter=yesterday', /query\.createdAfter: must be an ISO 8601 date-time/],
        ['/api/runs?colour=blue', /Unrecognized key\(s\) in object: 'colour'/],
        ['/api/runs?tags=a%20b', /query\.tags\.0: a tag is/],
        ['/api/runs?attributes=customer', /query\.attributes: each attribute is key=value/],
        ['/api/runs?attributes=9x=1', /query\.attributes: attributes: attribute key "9x" is invalid/],
        ['/api/runs/not%20a%20run', /param\.runId: must be a run id/],
        ['/api/dead-letters?queue=a%20b', /query\.queue/],
      ];
      for (const [path, message] of cases) {
        const res = await call(path);
        expect(res.status, path).toBe(400);
        expect(res.body.error.code, path).toBe('INVALID_REQUEST');
        expect(res.body.error.message, path).toMatch(message);
      }
      const badCursor = await call('/api/runs?cursor=garbage');
      expect(badCursor.status).toBe(400);
      expect(badCursor.body.error.message).toMatch(/cursor/);
      const noName = await post(`/api/runs/${runs.signal}/signals`, { payload: 1 });
      expect(noName.status).toBe(400);
      expect(noName.body.error.message).toMatch(/json\.name/);
      const malformed = await call(`/api/runs/${runs.signal}/signals`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"name":' });
      expect(malformed.status).toBe(400);
      const notJson = await call(`/api/runs/${runs.signal}/cancel`, { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: '{}' });
      expect(notJson.status).toBe(415);
      expect(notJson.body.error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
      const route = await call('/api/nothing-here');
      expect(route.status).toBe(404);
    });

    it('shows a run: rendered events, steps with attempts, the timeline, timers and the waiting hook (without its token)', async () => {
      const d = await until('the order run to wait on its hook', async () => {
        const r = await detail(runs.order);
        return r.hooks.some((h) => h.status === 'waiting') ? r : undefined;
      });
      expect(d.run).toMatchObject({ runId: runs.order, workflow: 'dash.order', status: 'suspended', tags: expect.arrayContaining(['shop', 'vip']) });
      expect(d.run.args).toEqual({
        type: 'array',
        items: [
          {
            type: 'object',
            entries: [
              ['id', { type: 'string', value: 'o-1' }],
              ['items', { type: 'array', items: [{ type: 'string', value: 'a' }, { type: 'string', value: 'b' }] }],
              ['total', { type: 'bigint', value: '1250' }],
            ],
          },
        ],
      });
      expect(d.steps.map((s) => [s.name, s.status, s.attempts.length])).toEqual([
        ['dash.reserve-stock', 'completed', 1],
        ['dash.charge-card', 'completed', 2],
      ]);
      const charge = d.steps[1];
      // Each attempt starts at its step_started, recorded before the body ran, by the worker named there.
      expect(charge.attempts[0]).toMatchObject({ attempt: 1, outcome: 'failed', startSource: 'step_started', error: { name: 'Error', message: 'payment network busy' } });
      expect(charge.attempts[0].workerId).toEqual(expect.any(String));
      expect(charge.attempts[0].error!.stack).toContain('payment network busy');
      expect(charge.attempts[1]).toMatchObject({ attempt: 2, outcome: 'completed', startSource: 'step_started' });
      expect(charge.attempts[0].end).toBeGreaterThanOrEqual(charge.attempts[0].start);
      expect(charge.result).toMatchObject({ type: 'object', entries: [['charged', { type: 'bigint', value: '1250' }], ['receipt', { type: 'bytes', hex: 'deadbeef' }]] });

      expect(d.timeline.lanes.map((l) => l.kind)).toEqual(['step', 'step', 'sleep', 'hook']);
      expect(d.timeline.lanes[1].bars.map((bar) => bar.kind)).toEqual(['attempt', 'retry_wait', 'attempt']);
      expect(d.timeline.lanes[2].bars[0]).toMatchObject({ kind: 'sleep', state: 'completed' });
      expect(d.timeline.lanes[3].bars[0]).toMatchObject({ kind: 'hook_wait', state: 'open' });
      expect(d.timers).toEqual([expect.objectContaining({ kind: 'hook', correlationId: d.hooks[0].correlationId })]);
      expect(d.hooks).toEqual([expect.objectContaining({ name: 'dash.approval', status: 'waiting', inStep: false })]);
      expect(d.events[0]).toMatchObject({ seq: 1, type: 'run_created', fields: { workflow: 'dash.order' } });
      expect(d.events.map((e) => e.seq)).toEqual(d.events.map((_, i) => i + 1));

      const token = (await client.storage.readEvents(runs.order)).find((e) => e.type === 'hook_created')!;
      expect(token.type === 'hook_created' && token.data.token.length).toBeGreaterThan(20);
      const raw = (await call(`/api/runs/${runs.order}`)).text + (await call(`/api/runs/${runs.order}/events`)).text;
      expect(raw).not.toContain(token.type === 'hook_created' ? token.data.token : 'unreachable');
    });

    it('resumes a hook by its place in the run, and the run goes on to its child and completes', async () => {
      const d = await detail(runs.order);
      const hook = d.hooks[0];
      const res = await post(`/api/runs/${runs.order}/hooks/resume`, { correlationId: hook.correlationId, payload: { approved: true, by: 'ana' } });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ ok: true, runId: runs.order });
      const result = (await client.getRun(runs.order).result({ timeout: '20s' })) as { decision: unknown; notified: string };
      expect(result.decision).toEqual({ approved: true, by: 'ana' });
      expect(result.notified).toBe('notified');

      const done = await detail(runs.order);
      expect(done.run.status).toBe('completed');
      expect(done.hooks[0]).toMatchObject({ status: 'received', payload: { type: 'object', entries: [['approved', { type: 'boolean', value: true }], ['by', { type: 'string', value: 'ana' }]] } });
      expect(done.children).toEqual([expect.objectContaining({ workflow: 'dash.notify-customer', status: 'completed' })]);
      const childLane = done.timeline.lanes.find((l) => l.kind === 'child')!;
      expect(childLane.bars[0]).toMatchObject({ state: 'completed', childRunId: done.children[0].childRunId });
      expect(done.timeline.end).toBe(done.events.at(-1)!.at);
      expect(done.events.at(-1)!.type).toBe('run_completed');
      const resultEntries = (done.run.result as { entries: Array<[string, { type: string }]> }).entries;
      expect(Object.fromEntries(resultEntries.map(([k, v]) => [k, v.type]))).toMatchObject({ tags: 'set', totals: 'map', stock: 'object' });

      const again = await post(`/api/runs/${runs.order}/hooks/resume`, { correlationId: hook.correlationId, payload: {} });
      expect(again.status).toBe(409);
      expect(['HOOK_ALREADY_USED', 'HOOK_EXPIRED']).toContain(again.body.error.code);
      const nowhere = await post(`/api/runs/${runs.order}/hooks/resume`, { correlationId: '999', payload: {} });
      expect(nowhere.status).toBe(404);
    });

    it('resumes a hook by its token, for callers that hold one', async () => {
      const created = await until('the second order to wait on its hook', async () => (await client.storage.readEvents(runs.order2)).find((e) => e.type === 'hook_created'));
      const wrong = await post('/api/hooks/resume', { token: 'not-a-token', payload: {} });
      expect(wrong.status).toBe(404);
      expect(wrong.body.error.code).toBe('HOOK_NOT_FOUND');
      const res = await post('/api/hooks/resume', { token: created.type === 'hook_created' ? created.data.token : '', payload: { approved: false, by: 'bo' } });
      expect(res.status).toBe(200);
      expect(((await client.getRun(runs.order2).result({ timeout: '20s' })) as { decision: unknown }).decision).toEqual({ approved: false, by: 'bo' });
    });

    it('sends a signal', async () => {
      await until('the signal wait', async () => (await detail(runs.signal)).timeline.lanes.some((l) => l.kind === 'signal'));
      const res = await post(`/api/runs/${runs.signal}/signals`, { name: 'go', payload: 'now' });
      expect(res.status).toBe(202);
      expect(await client.getRun(runs.signal).result({ timeout: '20s' })).toBe('got now');
      const d = await detail(runs.signal);
      expect(d.signals).toEqual([expect.objectContaining({ name: 'go', payload: { type: 'string', value: 'now' } })]);
      expect(d.timeline.lanes[0].bars[0]).toMatchObject({ kind: 'signal_wait', state: 'completed' });
    });

    it('cancels a run; a finished or unknown run is refused', async () => {
      const res = await post(`/api/runs/${runs.toCancel}/cancel`, { reason: 'not needed' });
      expect(res.status).toBe(202);
      await until('the run to be cancelled', async () => (await client.getRun(runs.toCancel).status()) === 'cancelled');
      const d = await detail(runs.toCancel);
      expect(d.events.find((e) => e.type === 'cancel_requested')!.fields).toEqual({ reason: 'not needed' });
      const again = await post(`/api/runs/${runs.toCancel}/cancel`);
      expect(again.status).toBe(409);
      expect(again.body.error.code).toBe('RUN_ALREADY_FINISHED');
      const missing = await post('/api/runs/no-such-run/cancel');
      expect(missing.status).toBe(404);
      expect(missing.body.error.code).toBe('RUN_NOT_FOUND');
      expect((await call('/api/runs/no-such-run')).status).toBe(404);
    });

    it('shows a failed run with its error and stack', async () => {
      const d = await detail(runs.failing);
      expect(d.run.status).toBe('failed');
      expect(d.run.error!.message).toMatch(/the warehouse is on fire/);
      expect(d.steps[0]).toMatchObject({ name: 'dash.explode', status: 'failed' });
      expect(d.steps[0].attempts[0].error!.stack).toContain('the warehouse is on fire');
      expect(d.timeline.lanes[0].bars[0].state).toBe('failed');
    });

    it('follows the chain of a continued run', async () => {
      await until('the chain to finish', async () => (await client.getRunChain(runs.loop)).at(-1)!.status === 'completed');
      const chain = await call(`/api/runs/${runs.loop}/chain`);
      expect(chain.status).toBe(200);
      expect(chain.body.runs.map((r: { status: string }) => r.status)).toEqual(['continued', 'continued', 'completed']);
      expect(chain.body.runs[0].runId).toBe(runs.loop);
      const middle = chain.body.runs[1].runId;
      expect((await call(`/api/runs/${middle}/chain`)).body.runs.map((r: { runId: string }) => r.runId)).toEqual(chain.body.runs.map((r: { runId: string }) => r.runId));
      const d = await detail(middle);
      expect(d.run.continuedFrom).toBe(runs.loop);
      expect(d.run.continuedTo).toBe(chain.body.runs[2].runId);
    });

    it('lists, pauses, resumes and triggers schedules', async () => {
      const list = await call('/api/schedules');
      expect(list.status).toBe(200);
      expect(list.body.schedules).toEqual([expect.objectContaining({ scheduleId: 'dash-hourly', workflow: 'dash.notify-customer', paused: false, spec: { everyMs: 3_600_000 } })]);
      expect(list.body.schedules[0].args).toEqual({ type: 'array', items: [{ type: 'string', value: 'from-schedule' }] });
      const paused = await post('/api/schedules/dash-hourly/pause');
      expect(paused.status).toBe(200);
      expect(paused.body.schedule.paused).toBe(true);
      const resumed = await post('/api/schedules/dash-hourly/resume');
      expect(resumed.body.schedule.paused).toBe(false);
      const triggered = await post('/api/schedules/dash-hourly/trigger');
      expect(triggered.status).toBe(202);
      expect(await client.getRun(triggered.body.runId).result({ timeout: '20s' })).toBe('notified');
      const after = await call('/api/schedules/dash-hourly');
      expect(after.body.schedule.history.map((h: { action: string }) => h.action)).toEqual(['created', 'paused', 'resumed', 'triggered']);
      const missing = await post('/api/schedules/nope/pause');
      expect(missing.status).toBe(404);
      expect(missing.body.error.code).toBe('SCHEDULE_NOT_FOUND');
    });

    it('lists dead letters per queue', async () => {
      const res = await until('the poison message to be dead-lettered', async () => {
        const r = await call('/api/dead-letters');
        return r.body.queues.find((q: { queue: string }) => q.queue === 'default')?.deadLetters.length ? r : undefined;
      });
      const letter = res.body.queues.find((q: { queue: string }) => q.queue === 'default').deadLetters[0];
      expect(letter).toMatchObject({ queue: 'default', brokerQueue: 'durably.default', body: 'this is not a task' });
      expect(letter.reason).toMatch(/not JSON/);
      expect(letter.task).toBeUndefined();
      const one = await call('/api/dead-letters?queue=default&limit=1');
      expect(one.body.queues).toHaveLength(1);
    });

    it('shows a multi-use hook open across its payloads and resumes it by its place once per call, until the workflow closes it', async () => {
      const runId = (await client.start(readingsFlow)).runId;
      const waiting = await until('the readings run to wait on its hook', async () => {
        const d = await detail(runId);
        return d.hooks?.length ? d.hooks[0] : undefined;
      });
      expect(waiting).toMatchObject({ name: 'dash.reading', status: 'waiting', multiUse: true });
      expect((await post(`/api/runs/${runId}/hooks/resume`, { correlationId: waiting.correlationId, payload: { celsius: 21 } })).status).toBe(200);
      const open = await until('the first reading', async () => {
        const d = await detail(runId);
        return d.hooks[0]?.received === 1 ? d.hooks[0] : undefined;
      });
      expect(open).toMatchObject({ status: 'waiting', received: 1 });
      expect((await post(`/api/runs/${runId}/hooks/resume`, { correlationId: waiting.correlationId, payload: { celsius: 23 } })).status).toBe(200);
      expect(await client.getRun(runId).result({ timeout: '20s' })).toEqual([21, 23]);
      expect((await detail(runId)).hooks[0]).toMatchObject({ status: 'closed', received: 2 });
      const closed = await post(`/api/runs/${runId}/hooks/resume`, { correlationId: waiting.correlationId, payload: { celsius: 25 } });
      expect(closed.body.error.code).toBe('HOOK_ALREADY_USED');
    });

    it('answers an unchanged resource with 304 to If-None-Match', async () => {
      const first = await call(`/api/runs/${runs.failing}`);
      const tag = first.headers.get('etag');
      expect(tag).toBeTruthy();
      const second = await fetch(`${dashboard.url}/api/runs/${runs.failing}`, { headers: { 'If-None-Match': tag! } });
      expect(second.status).toBe(304);
    });
  });
}
