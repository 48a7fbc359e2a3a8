/**
 * The chaos workflow, defined in the tool (which starts runs and resumes hooks) and in each worker
 * process (which runs them). Five durable steps: a step, a sleep, a hook the tool resumes, a step that
 * fails twice before it succeeds, and a final step. Every step body appends one line to the effects
 * file (CHAOS_EFFECTS) as it starts, outside the engine, so that the tool can compare the bodies that
 * ran with the attempts the log recorded. The step after the hook's creation announces its token there.
 */
import { appendFileSync } from 'node:fs';
import { context, defineHook, sleep, step, workflow, type StepContext } from '@durably/core';

export const WORKFLOW = 'chaos.flow';

/** One body execution: `exec <runId> <step> <attempt> <pid>`; a hook to resume: `hook <runId> <token>`. */
function effect(line: string): void {
  const file = process.env.CHAOS_EFFECTS;
  if (!file) throw new Error('CHAOS_EFFECTS is not set: the chaos workflow records each step body it runs in that file.');
  appendFileSync(file, `${line}\n`);
}

export function executed(name: string): StepContext {
  const ctx = context() as StepContext;
  effect(`exec ${ctx.runId} ${name} ${ctx.attempt} ${process.pid}`);
  return ctx;
}

const prepare = step('chaos.prepare', async (n: number) => {
  executed('prepare');
  return n * 2;
});

const announce = step('chaos.announce', async (token: string) => {
  const ctx = executed('announce');
  effect(`hook ${ctx.runId} ${token}`);
});

/** Fails on its first two attempts, succeeds on the third. */
const flaky = step(
  'chaos.flaky',
  async (n: number) => {
    const ctx = executed('flaky');
    if (ctx.attempt < 3) throw new Error(`flaky step: attempt ${ctx.attempt} fails on purpose`);
    return n + 1;
  },
  { retries: 5, backoff: { initial: '200ms', factor: 1, jitter: false } },
);

const finish = step('chaos.finish', async (parts: number[]) => {
  executed('finish');
  return parts.reduce((a, b) => a + b, 0);
});

export const approval = defineHook<{ value: number }>('chaos.approval');

/** The result of run `n`: the tool resumes its hook with `{ value: n }`. */
export const expectedResult = (n: number): number => n * 2 + n + (n + 1);

export const chaosFlow = workflow(
  WORKFLOW,
  async (n: number, sleepMs: number) => {
    const doubled = await prepare(n);
    await sleep(sleepMs);
    const hook = approval.create();
    await announce(hook.token);
    const { value } = await hook;
    const bumped = await flaky(n);
    return finish([doubled, value, bumped]);
  },
  // A run may lose its worker several times under the chaos; the guarantee is that it resumes each time.
  { maxRecoveryAttempts: 1000 },
);

/** Three steps of 1.5 s each: long enough that a worker cut off holds attempts in flight. */
const slow = [1, 2, 3].map((i) =>
  step(`chaos.slow${i}`, async (n: number) => {
    executed(`slow${i}`);
    await new Promise((r) => setTimeout(r, 1500));
    return n + i;
  }),
);

export const ISOLATED_WORKFLOW = 'chaos.isolated';
/** The result of isolated run `n`. */
export const isolatedResult = (n: number): number => n + 6;

/** The workflow of the isolation scenarios (a frozen or partitioned worker): three slow steps. */
export const isolatedFlow = workflow(ISOLATED_WORKFLOW, async (n: number) => {
  let v = n;
  for (const s of slow) v = await s(v);
  return v;
}, { maxRecoveryAttempts: 1000 });

/** The names of the step calls, in order, as the log records them. */
export const STEP_NAMES = ['chaos.prepare', 'chaos.announce', 'chaos.flaky', 'chaos.finish'] as const;
