/**
 * Workflows of the engine suite's updates: a ledger whose update handler calls a step (set at once,
 * or only after a signal, so that earlier updates are buffered), one that never sets a handler, and
 * a cart for update-with-start.
 */
import { condition, continueAsNew, defineUpdate, FatalError, sleep, step, waitForSignal, workflow, type Workflow } from '@durably/core';
import { z } from 'zod';
import { bump, runIdOf } from './effects.js';

/** Adds a positive integer to the ledger; the caller's validator refuses anything else. 13 makes the handler throw. */
export const addToLedger = defineUpdate<number, number>('suite.upd.add', {
  validate: (n) => {
    if (!Number.isInteger(n) || n <= 0) throw new Error(`the amount must be a positive integer, got ${n}`);
  },
});

/** The handler's step: counted per run and amount, so a test sees it ran once per update. */
export const ledgerEntry = step('suite.upd.entry', async (n: number) => {
  bump(`${runIdOf()}:entry:${n}`);
  return n;
});

/**
 * Sums the amounts of its updates (each recorded by a step) until the total reaches `target`; each
 * update is answered with the total after it. `late`: the handler is set only after the 'upd-go'
 * signal, so updates sent before wait in the buffer and are handled first, in order.
 */
export const ledger = workflow('suite.upd.ledger', async (target: number, late: boolean) => {
  let total = 0;
  const applied: number[] = [];
  if (late) await waitForSignal('upd-go');
  addToLedger.handle(async (n) => {
    if (n === 13) throw new FatalError('13 is not accepted in this ledger');
    const entry = await ledgerEntry(n); // handlers run concurrently: read `total` after the await
    total += entry;
    applied.push(n);
    return total;
  });
  await condition(() => total >= target);
  return { total, applied };
});

/** An update no workflow handles: the runs that get it end without answering it. */
export const unhandled = defineUpdate<string, string>('suite.upd.unhandled');

/** Sets no handler; ends at the 'upd-end' signal. */
export const noHandler = workflow('suite.upd.no-handler', async () => {
  await waitForSignal('upd-end');
  return 'ended';
});

/** Adds an item to the cart, answering with the number of items; the schema wants a non-empty string. */
export const addItem = defineUpdate<string, number>('suite.upd.cart-add', { schema: z.string().min(1) });

/** A cart that lives until a "checkout" item is added: the update-with-start pattern. */
export const cart = workflow('suite.upd.cart', async (owner: string) => {
  const items: string[] = [];
  addItem.handle((sku) => {
    items.push(sku);
    return items.length;
  });
  await condition(() => items.includes('checkout'));
  return { owner, items };
});

/** Answers which round it is in. */
export const whichRound = defineUpdate<null, number>('suite.upd.round');

/** Answers `whichRound`, and at each 'upd-next' signal continues as new into the next round, up to `last`. */
export const rounds = workflow('suite.upd.rounds', async (round: number, last: number): Promise<number> => {
  whichRound.handle(() => round);
  await waitForSignal('upd-next');
  if (round < last) return continueAsNew(round + 1, last);
  return round;
});

/** Sets no handler and sleeps: a cancel ends it with an update unanswered. */
export const updateSleeper = workflow('suite.upd.sleeper', async () => {
  await sleep('1h');
});

export const updatesWorkflows: Workflow<any[], any>[] = [ledger, noHandler, cart, rounds, updateSleeper];
