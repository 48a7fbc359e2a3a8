import { continueAsNew, defineHook, runChild, setAttributes, sleep, step, stepContext, waitForSignal, workflow } from '@durably/core';

/**
 * Workflows the dashboard's tests run on a real worker: steps (one fails once and is retried),
 * a durable sleep, a hook that a person resumes, a signal wait and a child run, with values of
 * every kind the page must show faithfully (Date, Map, Set, BigInt, bytes).
 */

export const reserveStock = step('dash.reserve-stock', async (items: string[]) => ({ reserved: items.length, at: new Date('2024-05-01T10:00:00Z') }));

export const chargeCard = step(
  'dash.charge-card',
  async (amount: bigint) => {
    // The first attempt fails, as a flaky payment network would: the retry shows on the timeline.
    if (stepContext().attempt === 1) throw new Error('payment network busy');
    return { charged: amount, receipt: new Uint8Array([0xde, 0xad, 0xbe, 0xef]) };
  },
  { retries: 3, backoff: { initial: '100ms', factor: 2 } },
);

export const shipOrder = step('dash.ship-order', async (orderId: string) => `shipped ${orderId}`);

export const approval = defineHook<{ approved: boolean; by: string }>('dash.approval');

const sendEmail = step('dash.send-email', async (id: string) => `mail for ${id}`);

export const notifyCustomer = workflow('dash.notify-customer', async (orderId: string) => {
  await sendEmail(orderId);
  return 'notified';
});

/** Steps, a retry, a sleep, a hook, a child: the run page's every kind of lane. */
export const orderFlow = workflow(
  'dash.order',
  async (order: { id: string; items: string[]; total: bigint }) => {
    setAttributes({ order: order.id, items: order.items.length });
    const stock = await reserveStock(order.items);
    const payment = await chargeCard(order.total);
    await sleep('1s');
    const decision = await approval.create({ timeout: '1h' });
    const notified = await runChild(notifyCustomer, order.id);
    const shipped = await shipOrder(order.id);
    return { stock, payment, decision, notified, shipped, tags: new Set(['vip']), totals: new Map([['eur', order.total]]) };
  },
  { tags: ['shop'] },
);

/** Waits for a signal (with a timeout, so the wait is a span on the timeline). */
export const signalFlow = workflow('dash.signalled', async () => {
  const note = await waitForSignal<string>('go', { timeout: '1h' });
  return `got ${note}`;
});

/** Fails for good: the run page shows the error with its stack. */
const explode = step(
  'dash.explode',
  async () => {
    throw new Error('the warehouse is on fire');
  },
  { retries: 0 },
);

export const failingFlow = workflow('dash.failing', async () => {
  await explode();
});



/** Continues as new twice: a chain of three runs. */
export const loopFlow = workflow('dash.loop', async (n: number): Promise<number> => {
  if (n < 2) return continueAsNew(n + 1);
  return n;
});
export const reading = defineHook<{ celsius: number }>('dash.reading');

/** Takes two readings through one multi-use hook, then closes it. */
export const readingsFlow = workflow('dash.readings', async () => {
  const hook = reading.create({ multiUse: true, timeout: '1h' });
  const got: number[] = [];
  for await (const r of hook) {
    got.push(r.celsius);
    if (got.length === 2) break;
  }
  return got;
});

export const allWorkflows = [orderFlow, notifyCustomer, signalFlow, failingFlow, loopFlow, readingsFlow];
