import { expect, it } from 'vitest';
import { continueAsNew, exportHistory, step, workflow } from '@durably/core';
import { createTestEnv, replayHistory } from '../src/index.js';

// The example of docs/concepts/testing.md, "Debugging a production run locally".
const charge = step('docs.charge', async (amount: number) => `charged ${amount}`);
const checkout = workflow('docs.checkout', async (amount: number) => charge(amount));
const chargeCard = step('docs.charge-card', async (amount: number) => `charged ${amount}`);

it('replays a recorded run against the current code, and reports a renamed step at its first event', async () => {
  const env = await createTestEnv({ workflows: [checkout] });
  const run = await env.start(checkout, 42);
  await run.result({ timeout: '10s' });
  const history = await exportHistory(env.client.storage, run.runId);
  await env.close();

  expect(await replayHistory(checkout, history)).toEqual({ ok: true });

  const check = await replayHistory({ ...checkout.definition, fn: async (amount: number) => chargeCard(amount) }, history);
  expect(check.ok).toBe(false);
  if (check.ok) return;
  expect(check.divergence).toMatchObject({ seq: 3, eventType: 'step_started', position: '1', expected: 'step "docs.charge"', got: 'step "docs.charge-card"' });
  expect(check.divergence.message).toMatch(/^Non-determinism at call #1/);
});

it('follows a continueAsNew chain when exported with followContinuations, and replays every run of it', async () => {
  const countdown = workflow('docs.countdown', async (n: number): Promise<number> => (n > 0 ? continueAsNew(n - 1) : charge(0).then(() => 0)));
  const env = await createTestEnv({ workflows: [countdown] });
  const first = await env.start(countdown, 2);
  await env.settle();
  const history = await exportHistory(env.client.storage, first.runId, { followContinuations: true });
  await env.close();
  expect(history.continuations?.map((c) => c.run.status)).toEqual(['continued', 'completed']);
  expect(await replayHistory(countdown, history)).toEqual({ ok: true });
  // The last run of the chain diverges: the check names it.
  const changed = await replayHistory({ ...countdown.definition, fn: async (n: number) => (n > 0 ? continueAsNew(n - 1) : chargeCard(0)) }, history);
  expect(changed.ok).toBe(false);
  if (!changed.ok) expect(changed.divergence.runId).toBe(history.continuations![1].run.runId);
});
