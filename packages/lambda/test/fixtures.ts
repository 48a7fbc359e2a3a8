import { context, defineHook, FatalError, patched, runChild, sleep, step, workflow, type WorkflowContext } from '@durably/core';

/** How many times each step body ran, by a key the test chooses: "each body runs once per attempt". */
export const calls = new Map<string, number>();
export function count(key: string): number {
  const n = (calls.get(key) ?? 0) + 1;
  calls.set(key, n);
  return n;
}

export const flaky = step(
  'flaky-charge',
  async (key: string, failures: number) => {
    const attempt = count(key);
    if (attempt <= failures) throw new Error(`gateway busy (attempt ${attempt})`);
    return { charged: key, attempt, at: new Date(Date.UTC(2026, 0, 1)) };
  },
  { retries: 3, backoff: { initial: '1s', factor: 1, jitter: false } },
);

export const retrying = workflow('lambda-retrying', async (key: string, failures: number) => {
  const receipt = await flaky(key, failures);
  // The Date came back from the step's checkpoint as a Date: Durably's serialization, not JSON.
  return { receipt, atIsDate: receipt.at instanceof Date };
});

export const refusing = step('refuse-card', async (key: string) => {
  count(key);
  throw new FatalError(`card declined for ${key}`);
});

export const fatal = workflow('lambda-fatal', async (key: string) => {
  try {
    await refusing(key);
    return 'charged';
  } catch (error) {
    const cause = (error as Error).cause as Error;
    return { error: (error as Error).name, cause: cause.name, fatal: cause instanceof FatalError, message: cause.message };
  }
});

export const double = step('double', async (key: string, n: number) => {
  count(`${key}:${n}`);
  return n * 2;
});

export const parallel = workflow('lambda-parallel', async (key: string) => {
  const values = await Promise.all([double(key, 1), double(key, 2), double(key, 3)]);
  const [first] = await Promise.all([double(key, 4)]);
  return { values, first };
});

export const approval = defineHook<{ approved: boolean; by: string; at: Date }>('lambda-approval');
export const notifyApprover = step('notify-approver', async (key: string, token: string) => {
  count(`${key}:notify`);
  tokens.set(key, token);
  return `asked with ${token.length} chars`;
});
export const tokens = new Map<string, string>();
export const recordDecision = step('record-decision', async (key: string, approved: boolean) => {
  count(`${key}:record`);
  return approved ? 'approved' : 'rejected';
});

export const expense = workflow('lambda-expense', async (key: string) => {
  const hook = approval.create({ timeout: '1h' });
  await notifyApprover(key, hook.token);
  const decision = await hook;
  const recorded = await recordDecision(key, decision.approved);
  return { approved: decision.approved, by: decision.by, atIsDate: decision.at instanceof Date, recorded };
});

export const childWork = workflow('lambda-child', async (key: string, n: number) => {
  const doubled = await double(key, n);
  await sleep('2s');
  return { doubled, runId: context().runId };
});

/** The context values each (re)execution of the family workflow's body saw, in order. */
export const seen: unknown[] = [];
export const family = workflow('lambda-family', async (key: string) => {
  const ctx = context() as WorkflowContext;
  const values = { uuid: ctx.uuid(), random: ctx.random(), start: ctx.now().getTime() };
  seen.push(values);
  const first = await runChild(childWork, key, 10);
  const second = await runChild(childWork, key, 20);
  const after = ctx.now().getTime();
  const patchedNow = patched('family-v2');
  return { values, first: first.doubled, second: second.doubled, childRunIds: [first.runId, second.runId], afterChildren: after >= values.start, patchedNow, runId: ctx.runId };
});

/** Code that changes while a run is in flight: `version` 1 was deployed when the run started. */
export const deployed = { version: 1 };
export const versionHook = defineHook<string>('lambda-version-hook');
export const versioned = workflow('lambda-versioned', async (key: string) => {
  const first = versionHook.create();
  await notifyApprover(key, first.token);
  const note = await first;
  // Version 2 added a step here; runs recorded by version 1 past this point keep the old path.
  const path = deployed.version >= 2 && patched('extra-step') ? await double(key, 100) : 'old path';
  await double(key, 1);
  const second = versionHook.create();
  await notifyApprover(`${key}:second`, second.token);
  const more = await second;
  const fresh = deployed.version >= 2 && patched('fresh-patch');
  return { note, more, path, fresh };
});
