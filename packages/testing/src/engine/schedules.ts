import { expect, it } from 'vitest';
import { ScheduleNotFoundError, type Client } from '@durably/core';
import type { SuiteContext } from './context.js';
import * as W from './workflows.js';
import { waitFor } from '../wait.js';

/**
 * Engine suite, schedules: intervals from two schedulers, overlap and catch-up policies, cron and
 * calendar slots, backfill, endAt and jitter, and schedules declared on workflows.
 */
export function scheduleTests(suite: SuiteContext): void {
  const { client, worker } = suite;

  async function runsOfSchedule(c: Client, scheduleId: string) {
    const all = [];
    let cursor: string | undefined;
    do {
      const page = await c.listRuns({ workflow: 'suite.scheduled', limit: 1000, cursor });
      all.push(...page.runs.filter((r) => r.idempotencyKey?.startsWith(`schedule:${scheduleId}:`)));
      cursor = page.nextCursor;
    } while (cursor);
    return all.sort((a, b) => a.createdAt - b.createdAt);
  }

  it('fires an interval schedule from two schedulers without firing any slot twice; pause, resume, trigger, delete', async () => {
    const c1 = await client();
    const c2 = await client();
    await worker(c1, { scheduleInterval: '30ms' });
    await worker(c2, { scheduleInterval: '30ms' });
    const id = `every-${crypto.randomUUID().slice(0, 8)}`;
    const t0 = Date.now();
    const created = await c1.schedules.create(id, W.scheduledJob, { every: '200ms', args: ['tick', 0], overlap: 'allow_all' });
    expect(created.nextFireAt! - t0).toBeGreaterThanOrEqual(190);
    await waitFor(async () => (await runsOfSchedule(c1, id)).length >= 4, 15_000);
    const runs = await runsOfSchedule(c1, id);
    const slots = runs.map((r) => Number(r.idempotencyKey!.split(':').at(-1)));
    expect(new Set(slots).size).toBe(slots.length);
    for (const slot of slots) expect((slot - slots[0]) % 200).toBe(0);
    expect(slots.length).toBeLessThanOrEqual(Math.floor((Date.now() - t0) / 200) + 1);

    await c2.schedules.pause(id);
    await new Promise((r) => setTimeout(r, 100));
    const paused = (await runsOfSchedule(c1, id)).length;
    await new Promise((r) => setTimeout(r, 600));
    expect((await runsOfSchedule(c1, id)).length).toBe(paused);
    expect((await c1.schedules.get(id))!.paused).toBe(true);

    const manual = await c1.schedules.trigger(id);
    expect(await c1.getRun(manual).result({ timeout: '10s' })).toBe('tick');
    await c1.schedules.resume(id);
    await waitFor(async () => (await runsOfSchedule(c1, id)).length >= paused + 2, 10_000);

    await c1.schedules.delete(id);
    expect(await c1.schedules.get(id)).toBeUndefined();
    await expect(c1.schedules.delete(id)).rejects.toBeInstanceOf(ScheduleNotFoundError);
    expect((await c1.schedules.list()).some((s) => s.scheduleId === id)).toBe(false);
  });

  it('applies the overlap policies: skip and buffer_one never overlap, cancel_previous cancels the running one', async () => {
    const c = await client();
    await worker(c, { scheduleInterval: '20ms' });
    const ids = { skip: `skip-${crypto.randomUUID().slice(0, 8)}`, buffer: `buf-${crypto.randomUUID().slice(0, 8)}`, cancel: `cancel-${crypto.randomUUID().slice(0, 8)}` };
    await c.schedules.create(ids.skip, W.scheduledJob, { every: '100ms', args: ['s', 250], overlap: 'skip' });
    await c.schedules.create(ids.buffer, W.scheduledJob, { every: '100ms', args: ['b', 250], overlap: 'buffer_one' });
    await c.schedules.create(ids.cancel, W.scheduledJob, { every: '100ms', args: ['c', 250], overlap: 'cancel_previous' });
    await new Promise((r) => setTimeout(r, 1500));
    for (const id of Object.values(ids)) await c.schedules.pause(id);
    for (const id of [ids.skip, ids.buffer]) {
      const runs = await runsOfSchedule(c, id);
      expect(runs.length).toBeGreaterThanOrEqual(2);
      for (const r of runs) await c.getRun(r.runId).result({ timeout: '10s' });
      const spans = await Promise.all(
        runs.map(async (r) => {
          const events = await c.getRun(r.runId).events();
          return { start: events[0].at, end: events.at(-1)!.at };
        }),
      );
      for (let i = 1; i < spans.length; i++) expect(spans[i].start).toBeGreaterThanOrEqual(spans[i - 1].end);
    }
    const cancelled = await runsOfSchedule(c, ids.cancel);
    await waitFor(async () => {
      const statuses = await Promise.all(cancelled.map((r) => c.getRun(r.runId).status()));
      return statuses.filter((st) => st === 'cancelled').length >= 1;
    }, 10_000);
  });

  it('catches up missed slots after downtime as configured: all, latest or none', async () => {
    const c = await client();
    const startAt = new Date(Date.now() - 5_500);
    const id = (p: string) => `catch-${p}-${crypto.randomUUID().slice(0, 8)}`;
    const all = id('all');
    const latest = id('latest');
    const none = id('none');
    await c.schedules.create(all, W.scheduledJob, { every: '1s', startAt, catchUp: 'all', args: ['a', 0], overlap: 'allow_all' });
    await c.schedules.create(latest, W.scheduledJob, { every: '1s', startAt, catchUp: 'latest', args: ['l', 0], overlap: 'allow_all' });
    await c.schedules.create(none, W.scheduledJob, { every: '1s', startAt: new Date(Date.now() - 125_000), catchUp: 'none', args: ['n', 0], overlap: 'allow_all' });
    // No scheduler ran while the slots passed; now one starts.
    const w = await worker(c, { scheduleInterval: '20ms' });
    await waitFor(async () => (await runsOfSchedule(c, all)).length >= 6 && (await runsOfSchedule(c, latest)).length >= 1, 10_000);
    await w.stop();
    expect((await runsOfSchedule(c, all)).length).toBeLessThanOrEqual(7);
    expect((await runsOfSchedule(c, latest)).length).toBeLessThanOrEqual(2);
    expect((await runsOfSchedule(c, latest)).length).toBeGreaterThanOrEqual(1);
    const noneRuns = await runsOfSchedule(c, none);
    // Slots two minutes old are not fired; only the on-time ones since the scheduler started.
    for (const r of noneRuns) expect(Number(r.idempotencyKey!.split(':').at(-1))).toBeGreaterThan(Date.now() - 70_000);
    for (const sid of [all, latest, none]) await c.schedules.delete(sid);
  });

  it('computes cron slots in the schedule\'s time zone and rejects bad specs', async () => {
    const c = await client();
    const id = `cron-${crypto.randomUUID().slice(0, 8)}`;
    const record = await c.schedules.create(id, W.scheduledJob, { cron: '0 9 * * MON', timezone: 'Europe/Prague', args: ['weekly', 0] });
    const local = new Date(record.nextFireAt!).toLocaleString('en-GB', { timeZone: 'Europe/Prague', weekday: 'long', hour: '2-digit', minute: '2-digit' });
    expect(local).toBe('Monday 09:00');
    expect(record.nextFireAt! - Date.now()).toBeLessThanOrEqual(7 * 86_400_000);
    await expect(c.schedules.create(`${id}-bad`, W.scheduledJob, { cron: '61 * * * *' })).rejects.toThrow(/cron "61 \* \* \* \*"/);
    await expect(c.schedules.create(`${id}-tz`, W.scheduledJob, { cron: '0 9 * * *', timezone: 'Mars/Olympus' })).rejects.toThrow(/Mars\/Olympus/);
    await expect(c.schedules.create(`${id}-both`, W.scheduledJob, { cron: '* * * * *', every: '1m' })).rejects.toThrow(/exactly one/);
    await c.schedules.delete(id);
  });

  async function runsOf(c: Client, workflowName: string, scheduleId: string) {
    const page = await c.listRuns({ workflow: workflowName, limit: 1000 });
    return page.runs.filter((r) => r.idempotencyKey?.startsWith(`schedule:${scheduleId}:`)).sort((a, b) => a.createdAt - b.createdAt);
  }

  it('backfills one run per missed slot, each with its scheduled time, never twice; records the lifecycle', async () => {
    const c = await client();
    await worker(c, { scheduleInterval: '30ms' });
    const id = `backfill-${crypto.randomUUID().slice(0, 8)}`;
    const hour = 3_600_000;
    const base = Math.floor(Date.now() / hour) * hour - 10 * hour;
    // Ended before now: no slot comes due on time while the test runs (one did at a full hour), only backfills.
    await c.schedules.create(id, W.stampedJob, { every: '1h', startAt: new Date(base), endAt: new Date(base + 5 * hour), catchUp: 'none', args: [0] });
    const started = await c.schedules.backfill(id, new Date(base + hour), new Date(base + 3 * hour));
    expect(started).toHaveLength(3);
    const results = (await Promise.all(started.map((r) => c.getRun(r).result({ timeout: '20s' })))) as Array<{ scheduledAt: number; scheduleId: string }>;
    expect(results.map((r) => r.scheduledAt).sort()).toEqual([base + hour, base + 2 * hour, base + 3 * hour]);
    expect(results.every((r) => r.scheduleId === id)).toBe(true);
    expect(await c.schedules.backfill(id, new Date(base + hour), new Date(base + 3 * hour))).toEqual([]);
    await c.schedules.pause(id);
    await c.schedules.resume(id);
    const record = (await c.schedules.get(id))!;
    expect(record.history!.map((h) => h.action)).toEqual(['created', 'backfilled', 'backfilled', 'paused', 'resumed']);
    expect(record.stats!.fired).toBe(3);
    await c.schedules.delete(id);
  });

  it('stops at endAt, spreads starts by jitter, buffers every slot with buffer_all, and prunes finished runs from its statistics', async () => {
    const c = await client();
    await worker(c, { scheduleInterval: '20ms' });
    const ended = `end-${crypto.randomUUID().slice(0, 8)}`;
    await c.schedules.create(ended, W.stampedJob, { every: '100ms', endAt: new Date(Date.now() + 350), args: [0], overlap: 'allow_all', jitter: '30ms' });
    const buffered = `all-${crypto.randomUUID().slice(0, 8)}`;
    await c.schedules.create(buffered, W.stampedJob, { every: '100ms', args: [220], overlap: 'buffer_all' });
    await new Promise((r) => setTimeout(r, 1200));
    await c.schedules.pause(buffered);
    const endedRuns = await runsOf(c, 'suite.stamped', ended);
    expect(endedRuns.length).toBeGreaterThanOrEqual(2);
    expect(endedRuns.length).toBeLessThanOrEqual(4);
    expect((await c.schedules.get(ended))!.nextFireAt).toBeUndefined();
    for (const r of endedRuns) {
      const slot = Number(r.idempotencyKey!.split(':').at(-1));
      expect(r.startAt === undefined || (r.startAt >= r.createdAt && r.startAt <= r.createdAt + 30)).toBe(true);
      expect(((await c.getRun(r.runId).result({ timeout: '20s' })) as { scheduledAt: number }).scheduledAt).toBe(slot);
    }
    const all = await runsOf(c, 'suite.stamped', buffered);
    expect(all.length).toBeGreaterThanOrEqual(2);
    for (const r of all) await c.getRun(r.runId).result({ timeout: '20s' });
    const spans = await Promise.all(all.map(async (r) => { const e = await c.getRun(r.runId).events(); return { start: e[0].at, end: e.at(-1)!.at }; }));
    for (let i = 1; i < spans.length; i++) expect(spans[i].start).toBeGreaterThanOrEqual(spans[i - 1].end);
    // Held-back slots are kept (buffer_all), and the statistics drop runs once they finish.
    await c.schedules.resume(buffered);
    await waitFor(async () => ((await c.schedules.get(buffered))!.stats!.running.length <= 1), 10_000);
    await c.schedules.delete(buffered);
    await c.schedules.delete(ended);
  });

  it('activates a schedule declared on a workflow once, however many workers start', async () => {
    // Four workers (two clients each, as separate processes would be) start at the same moment.
    const c1 = await client();
    const c2 = await client();
    const options = { scheduleInterval: '30ms' as const, workflows: [...W.allWorkflows, W.declaredJob] };
    await Promise.all([worker(c1, options), worker(c2, options), worker(c1, options), worker(c2, options)]);
    const declared = (await c1.schedules.list()).filter((s) => s.scheduleId === 'workflow:suite.declared');
    expect(declared).toHaveLength(1);
    expect(declared[0].history!.map((h) => h.action)).toEqual(['created']);
    await waitFor(async () => (await runsOf(c1, 'suite.declared', 'workflow:suite.declared')).length >= 2, 10_000);
    await c1.schedules.delete('workflow:suite.declared');
  });

  it('turns calendar fields into slots in the time zone', async () => {
    const c = await client();
    const id = `cal-${crypto.randomUUID().slice(0, 8)}`;
    const record = await c.schedules.create(id, W.stampedJob, { calendar: { dayOfWeek: [2, 4], hour: 18, minute: 30 }, timezone: 'America/New_York', args: [0] });
    const local = new Date(record.nextFireAt!).toLocaleString('en-US', { timeZone: 'America/New_York', weekday: 'long', hour: '2-digit', minute: '2-digit', hour12: false });
    expect(['Tuesday 18:30', 'Thursday 18:30']).toContain(local);
    await expect(c.schedules.create(`${id}-bad`, W.stampedJob, { calendar: { hour: 25 } })).rejects.toThrow(/calendar.hour/);
    await c.schedules.delete(id);
  });
}
