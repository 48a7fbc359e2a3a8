/**
 * Workflows of the engine suite's limits: payload and event limits, concurrency and rate limits.
 */
import { sleep, step, workflow, type Workflow } from '@durably/core';
import { tick } from './basics-workflows.js';

export const big = step('suite.big', async (bytes: number) => 'x'.repeat(bytes));

export const bigResult = workflow('suite.big-result', async (bytes: number) => {
  try {
    await big(bytes);
    return 'not reached';
  } catch (err) {
    return { name: (err as Error).name, cause: ((err as Error).cause as Error | undefined)?.name };
  }
});

export const manySteps = workflow('suite.many-steps', async (n: number) => {
  for (let i = 0; i < n; i++) await tick(i);
  return n;
});

/** In-flight tracking for the concurrency tests: current and highest count per group. */
export const inFlight = new Map<string, { now: number; max: number }>();

export const enter = step('suite.enter', async (group: string) => {
  const g = inFlight.get(group) ?? { now: 0, max: 0 };
  g.now++;
  g.max = Math.max(g.max, g.now);
  inFlight.set(group, g);
});

export const leave = step('suite.leave', async (group: string) => {
  inFlight.get(group)!.now--;
});

export const perUser = workflow(
  'suite.per-user',
  async (user: string, tag: string) => {
    await enter(`${tag}:${user}`);
    await sleep(40);
    await leave(`${tag}:${user}`);
    return user;
  },
  { concurrency: { limit: 1, key: (user: string) => user } },
);

export const limitedTotal = workflow(
  'suite.limited-total',
  async (tag: string) => {
    await enter(tag);
    await sleep(40);
    await leave(tag);
    return tag;
  },
  { concurrency: { limit: 2 } },
);

export const rateStarts = new Map<string, number[]>();

export const rateLimited = step(
  'suite.rate-limited',
  async (tag: string) => {
    const list = rateStarts.get(tag) ?? [];
    list.push(Date.now());
    rateStarts.set(tag, list);
  },
  { rateLimit: { limit: 5, period: '500ms' } },
);

export const rateWf = workflow('suite.rate', async (tag: string, n: number) => {
  await Promise.all(Array.from({ length: n }, () => rateLimited(tag)));
  return n;
});

/** The workflows above that the suite's workers register. */
export const limitsWorkflows: Workflow<any[], any>[] = [bigResult, manySteps, perUser, limitedTotal, rateWf];
