import { afterEach, expect, it } from 'vitest';
import { context, workflowContext, defineStream, RetryableError, runStream, sleep, step, streamStep, workflow } from '@durably/core';
import { createTestEnv, type TestEnv } from '../src/index.js';
import { approval, expense, issuedTokens } from '../src/engine/workflows.js';

const sendEmail = step('env.send-email', async (to: string) => `sent to ${to}`);
const onboarding = workflow('env.onboarding', async (userId: string) => {
  await sendEmail(userId);
  await sleep('7d');
  await sendEmail(`${userId} (tips)`);
  return 'Onboarding complete';
});
let flakyCalls = 0;
const flaky = step(
  'env.flaky',
  async () => {
    if (++flakyCalls < 3) throw new RetryableError('not yet', { retryAfter: '1h' });
    return flakyCalls;
  },
  { retries: 5 },
);
const retrying = workflow('env.retrying', async () => flaky());

let env: TestEnv | undefined;
afterEach(async () => {
  await env?.close();
  env = undefined;
});

it('passes a 7-day sleep in milliseconds with advanceTime', async () => {
  env = await createTestEnv({ workflows: [onboarding] });
  const t0 = env.now();
  const run = await env.start(onboarding, 'u1');
  await env.settle();
  expect(await run.status()).toBe('suspended');
  await env.advanceTime('6d');
  expect(await run.status()).toBe('suspended');
  const wall = Date.now();
  await env.advanceTime('1d');
  expect(await run.result({ timeout: '5s' })).toBe('Onboarding complete');
  expect(Date.now() - wall).toBeLessThan(5000);
  const events = await run.events();
  const woke = events.find((e) => e.type === 'sleep_completed')!;
  expect(woke.at - t0).toBeGreaterThanOrEqual(7 * 86_400_000);
});

it('lets a hook time out on the virtual clock', async () => {
  env = await createTestEnv({ workflows: [expense] });
  const run = await env.start(expense, 3 * 86_400_000);
  await env.settle();
  expect(issuedTokens.has(run.runId)).toBe(true);
  await env.advanceTime('3d');
  expect(await run.result({ timeout: '5s' })).toEqual({ error: 'HookTimeoutError' });
  expect(approval.name).toBe('suite.approval');
});

it('waits out retry delays on the virtual clock', async () => {
  env = await createTestEnv({ workflows: [retrying] });
  flakyCalls = 0;
  const run = await env.start(retrying);
  await env.settle();
  expect(flakyCalls).toBe(1);
  await env.advanceTime('1h');
  expect(flakyCalls).toBe(2);
  await env.advanceTime('1h');
  expect(await run.result({ timeout: '5s' })).toBe(3);
});

it('mocks a step body without changing the workflow', async () => {
  env = await createTestEnv({ workflows: [onboarding] });
  const calls: string[] = [];
  env.mockStep(sendEmail, async (to) => {
    calls.push(to);
    return `mocked ${to}`;
  });
  const run = await env.start(onboarding, 'u2');
  await env.advanceTime('7d');
  expect(await run.result({ timeout: '5s' })).toBe('Onboarding complete');
  expect(calls).toEqual(['u2', 'u2 (tips)']);
});

const report = workflow('env.report', async (team: string) => `report for ${team}`);

it('fires schedule slots as advanceTime passes them', async () => {
  env = await createTestEnv({ workflows: [report], startTime: new Date('2026-01-05T07:00:00Z') });
  await env.client.schedules.create('weekly', report, { cron: '0 9 * * MON', timezone: 'Europe/Prague', args: ['sales'], catchUp: 'all', overlap: 'allow_all' });
  const runsOf = async () => (await env!.client.listRuns({ workflow: 'env.report' })).runs;
  await env.advanceTime('30m');
  expect(await runsOf()).toHaveLength(0);
  await env.advanceTime('1h'); // 08:30Z = 09:30 in Prague, Monday 5 January
  expect(await runsOf()).toHaveLength(1);
  await env.advanceTime('14d');
  const runs = await runsOf();
  expect(runs).toHaveLength(3);
  for (const r of runs) expect(await env.client.getRun(r.runId).result({ timeout: '5s' })).toBe('report for sales');
});

const tick = workflow('env.tick', async () => {
  const ctx = context();
  return ctx.kind === 'workflow' ? ctx.scheduledAt?.toISOString() : undefined;
});

/** The runs of a workflow, oldest first, with the slot each was started for. */
async function slotsOf(e: TestEnv, wf: string): Promise<Array<{ runId: string; scheduledAt?: number; createdAt: number }>> {
  const runs = (await e.client.listRuns({ workflow: wf })).runs.reverse();
  return Promise.all(
    runs.map(async (r) => {
      const [first] = await e.client.getRun(r.runId).events(1);
      return { runId: r.runId, createdAt: r.createdAt, scheduledAt: first.type === 'run_created' ? first.data.scheduledAt : undefined };
    }),
  );
}

it('fires every slot one advanceTime passes, in slot order, each run with its scheduledAt (every and cron)', async () => {
  const t0 = new Date('2026-03-02T10:00:30Z');
  env = await createTestEnv({ workflows: [tick], startTime: t0 });
  await env.client.schedules.create('each-minute', tick, { every: '1m' }); // 10:01:30, 10:02:30, ...
  await env.client.schedules.create('cron-minute', tick, { cron: '* * * * *' }); // 10:01:00, 10:02:00, ...
  await env.advanceTime('3m');
  const runs = await slotsOf(env, 'env.tick');
  const at = (time: string) => new Date(`2026-03-02T${time}Z`).getTime();
  expect(runs.map((r) => r.scheduledAt)).toEqual([at('10:01:00'), at('10:01:30'), at('10:02:00'), at('10:02:30'), at('10:03:00'), at('10:03:30')]);
  // Each run was started at its own slot, not all at the end.
  expect(runs.map((r) => r.createdAt)).toEqual(runs.map((r) => r.scheduledAt));
  for (const r of runs) expect(await env.client.getRun(r.runId).result({ timeout: '5s' })).toBe(new Date(r.scheduledAt!).toISOString());
  for (const id of ['each-minute', 'cron-minute']) {
    expect((await env.client.schedules.get(id))!.stats).toMatchObject({ fired: 3, skipped: 0 });
  }
  await env.advanceTime('1m');
  expect(await slotsOf(env, 'env.tick')).toHaveLength(8);
});

const slotReport = workflow('env.slot-report', async (team: string) => {
  const { scheduledAt, scheduleId, now } = workflowContext();
  return { team, slot: (scheduledAt ?? now()).toISOString(), scheduleId };
});

it('gives runs started by trigger() the trigger time as their slot, and workflowContext() types the workflow context', async () => {
  const t0 = new Date('2026-03-02T10:00:00Z');
  env = await createTestEnv({ workflows: [slotReport], startTime: t0 });
  await env.client.schedules.create('reports', slotReport, { cron: '0 9 * * *', args: ['sales'] });
  await env.advanceTime('10s');
  const runId = await env.client.schedules.trigger('reports');
  expect(await env.client.getRun(runId).result({ timeout: '5s' })).toEqual({ team: 'sales', slot: '2026-03-02T10:00:10.000Z', scheduleId: 'reports' });
  const plain = await env.start(slotReport, 'ops');
  expect(await plain.result({ timeout: '5s' })).toEqual({ team: 'ops', slot: expect.stringMatching(/^\d{4}-\d\d-\d\dT/), scheduleId: undefined });
  expect(() => workflowContext()).toThrow(/outside a workflow/);
});

const slowReport = workflow('env.slow-report', async () => {
  await sleep('90s');
  return 'done';
});

it('applies the overlap policy slot by slot while advanceTime passes them', async () => {
  const t0 = new Date('2026-03-02T10:00:00Z');
  env = await createTestEnv({ workflows: [slowReport], startTime: t0 });
  await env.client.schedules.create('slow', slowReport, { every: '1m', overlap: 'skip' });
  // Slot 1 starts a run that sleeps until 2m30; slot 2 finds it running (skipped); slot 3 starts one.
  await env.advanceTime('3m');
  const runs = await slotsOf(env, 'env.slow-report');
  expect(runs.map((r) => r.scheduledAt)).toEqual([t0.getTime() + 60_000, t0.getTime() + 180_000]);
  expect((await env.client.schedules.get('slow'))!.stats).toMatchObject({ fired: 2, skipped: 1 });
});

it('refuses, before moving the clock, an advanceTime that would pass more than 10,000 schedule slots', async () => {
  env = await createTestEnv({ workflows: [tick] });
  const before = env.now();
  await env.client.schedules.create('fast', tick, { every: '10ms' });
  await expect(env.advanceTime('1h')).rejects.toThrow(/more than 10000 schedule slots/);
  expect(env.now()).toBe(before);
  expect((await env.client.listRuns({ workflow: 'env.tick' })).runs).toEqual([]);
});

const reminders = defineStream('env.reminders', (input: { days: number }, s) => {
  s.emit('reminder', { n: 1 }, { delay: `${input.days}d` });
});
streamStep(reminders, { name: 'inbox', signals: ['reminder'] }, (signal, ctx) => ctx.complete(signal.payload));
const remindLater = workflow('env.remind-later', async (days: number) => runStream(reminders, { streamRunId: `r-${days}`, input: { days } }));

it('delivers a stream signal scheduled days ahead when advanceTime passes it', async () => {
  env = await createTestEnv({ workflows: [remindLater] });
  const run = await env.start(remindLater, 3);
  await env.settle();
  await env.advanceTime('2d');
  expect(await run.status()).toBe('suspended');
  await env.advanceTime('1d');
  const outcome = await run.result({ timeout: '5s' });
  expect(outcome.status).toBe('completed');
  expect(outcome.steps.inbox).toMatchObject({ status: 'completed', result: { n: 1 } });
});
