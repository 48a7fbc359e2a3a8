/**
 * Workflows of the engine suite's hooks, signals, queries and versioning (patched).
 */
import { z } from 'zod';
import { context, stepHook, defineHook, defineQuery, patched, sleep, step, waitForSignal, workflow, type StepContext, type Workflow } from '@durably/core';
import { bump } from './effects.js';

export const ApprovalSchema = z.object({ approved: z.boolean(), by: z.string().min(1) });

export const approval = defineHook<z.infer<typeof ApprovalSchema>>('suite.approval', { schema: ApprovalSchema });

/** The token leaves the run through a step, as it would in an email. */
export const publishToken = step('suite.publish-token', async (token: string) => {
  issuedTokens.set((context() as StepContext).runId, token);
  return 'sent';
});

export const issuedTokens = new Map<string, string>();

export const expense = workflow('suite.expense', async (timeoutMs: number) => {
  const hook = approval.create({ timeout: timeoutMs });
  await publishToken(hook.token);
  try {
    const decision = await hook;
    return { decision };
  } catch (err) {
    return { error: (err as Error).name };
  }
});

export const collector = workflow('suite.collector', async (count: number, timeoutMs: number) => {
  const got: unknown[] = [];
  for (let i = 0; i < count; i++) got.push(await waitForSignal('item'));
  await sleep(20);
  let late: unknown;
  try {
    late = await waitForSignal('late', { timeout: timeoutMs });
  } catch (err) {
    late = (err as Error).name;
  }
  return { got, late };
});

export const versioned = { patched: false };

export const oldPath = step('suite.old-path', async () => 'old');

export const newPath = step('suite.new-path', async () => 'new');

export const patchedWf = workflow('suite.patched', async () => {
  await sleep(150);
  // Deploy 1 had only oldPath here; deploy 2 adds the patch.
  const which = versioned.patched && patched('use-new-path') ? await newPath() : await oldPath();
  await sleep(150);
  return which;
});

export const progressQuery = defineQuery<{ received: number }>('suite.progress');

/** A query with an argument, checked by a schema: the index of a received item. */
export const itemQuery = defineQuery<unknown, [index: number]>('suite.item', { schema: z.tuple([z.number().int().min(0)]) });

/** A query whose handler throws with the message it is given. */
export const failingQuery = defineQuery<never, [message: string]>('suite.failing');

/** A query the workflow never answers. */
export const unansweredQuery = defineQuery<number>('suite.unanswered');

export const queried = workflow('suite.queried', async (count: number) => {
  let received = 0;
  const items: unknown[] = [];
  progressQuery.handle(() => ({ received }));
  itemQuery.handle((index) => items[index] ?? null);
  failingQuery.handle((message) => {
    throw new Error(message);
  });
  for (let i = 0; i < count; i++) {
    items.push(await waitForSignal('q-item'));
    received++;
  }
  return received;
});

export const stepHookTokens = new Map<string, string>();

export const reviewed = step('suite.reviewed', async (doc: string, timeoutMs: number) => {
  const ctx = context() as StepContext;
  bump(`${ctx.runId}:reviewed`);
  try {
    const verdict = await stepHook<{ ok: boolean }>('suite.review', {
      timeout: timeoutMs,
      schema: z.object({ ok: z.boolean() }),
      onToken: (token) => void stepHookTokens.set(ctx.runId, token),
    });
    return `${doc}: ${verdict.ok ? 'approved' : 'rejected'}`;
  } catch (err) {
    return `${doc}: ${(err as Error).name}`;
  }
});

export const reviewWf = workflow('suite.review', async (doc: string, timeoutMs: number) => reviewed(doc, timeoutMs));

export const VoteSchema = z.object({ n: z.number().int() });

export const votes = defineHook<z.infer<typeof VoteSchema>>('suite.votes', { schema: VoteSchema });

/** The votes the workflow took so far: a query replays the log, so it shows what a replay hands the code. */
export const votesSeen = defineQuery<unknown[]>('suite.votes-seen');

/**
 * Takes `count` payloads from a multi-use hook, then leaves the loop (which closes the hook). It
 * sleeps `sleepFirstMs` before it asks, so that resumes can arrive while it does not wait.
 */
export const tally = workflow('suite.tally', async (count: number, sleepFirstMs: number, timeoutMs?: number) => {
  const hook = votes.create({ multiUse: true, timeout: timeoutMs });
  const seen: unknown[] = [];
  votesSeen.handle(() => seen);
  await publishToken(hook.token);
  if (sleepFirstMs > 0) await sleep(sleepFirstMs);
  try {
    for await (const vote of hook) {
      seen.push(vote);
      if (seen.length === count) break;
    }
  } catch (err) {
    return { seen, error: (err as Error).name };
  }
  return { seen, after: await hook.next() };
});

/** The workflows above that the suite's workers register. */
export const hooksWorkflows: Workflow<any[], any>[] = [expense, collector, patchedWf, queried, reviewWf, tally];
