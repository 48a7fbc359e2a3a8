/**
 * Workflows of the engine suite's message handlers and conditions: onSignal with buffered signals
 * and steps in its handler, condition() with and without its timeout, and a race loop whose losing
 * waits are cancelled.
 */
import { condition, onSignal, sleep, step, waitForSignal, workflow, type Workflow } from '@durably/core';
import { bump, runIdOf } from './effects.js';

/** The handler's step: counted per run and item, so a test sees it ran once per signal. */
export const recordItem = step('suite.msg.record', async (n: number) => {
  bump(`${runIdOf()}:record:${n}`);
  return `recorded ${n}`;
});

/**
 * Sets its handler only after the 'go' signal: items sent before are buffered and handled first, in
 * order. Each handler call records its item with a step; the run ends when `count` are recorded.
 */
export const itemHandler = workflow('suite.msg.items', async (count: number) => {
  const seen: number[] = [];
  const recorded: string[] = [];
  await waitForSignal('go');
  onSignal<number>('msg-item', async (n) => {
    seen.push(n);
    recorded.push(await recordItem(n));
  });
  await condition(() => recorded.length >= count);
  return { seen, recorded: [...recorded].sort() };
});

/** condition() over the state an onSignal handler sets, with a timeout. */
export const approvalGate = workflow('suite.msg.approval', async (timeoutMs: number) => {
  let approvedBy: string | undefined;
  onSignal<string>('msg-approve', (by) => {
    approvedBy = by;
  });
  const approved = await condition(() => approvedBy !== undefined, { timeout: timeoutMs });
  return { approved, approvedBy: approvedBy ?? null };
});

/**
 * The race loop: each turn a fresh wait races an idle sleep; the losing wait is cancelled, so the
 * next signal goes to the current turn's wait, not to an old one.
 */
export const raceLoop = workflow('suite.msg.race-loop', async (count: number, idleMs: number) => {
  const got: number[] = [];
  let idle = 0;
  while (got.length < count) {
    const wait = waitForSignal<number>('msg-tick');
    const winner = await Promise.race([wait.then((n) => ({ n })), sleep(idleMs).then(() => 'idle' as const)]);
    if (winner !== 'idle') {
      got.push(winner.n);
    } else if (wait.cancel()) {
      idle++;
    } else {
      got.push(await wait); // the signal came in the same turn as the sleep's end
    }
  }
  return { got, idled: idle > 0 };
});

/** The workflows above that the suite's workers register. */
export const messagesWorkflows: Workflow<any[], any>[] = [itemHandler, approvalGate, raceLoop];
