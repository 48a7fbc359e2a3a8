/**
 * Processes one order with a worker in this process, printing each step as it is recorded, then the
 * outcome and what the services did. Backends come from DURABLY_STORAGE / DURABLY_BROKER (or a
 * durably.config.*); with none set, the embedded default (a SQLite file under ./.durably).
 *
 *   npm start                              # payment, inventory, shipping: the order completes
 *   npm start -- --fail shipping           # the carrier stays down: inventory released, payment refunded
 *   npm start -- --flaky payment           # the first charge response is lost: retried, charged once
 *   npm start -- --order o-1               # the same --order again finds the same run (idempotency key)
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { connect, createWorker, deserialize, DurablyError, type Client, type DurablyEvent, type RunHandle, type Worker } from '@durably/core';
import { configureServices, formatCents, serviceLedger, type ServiceName } from './services.js';
import { orderTotal, processOrder, type Order, type OrderOutcome } from './workflows.js';

const USAGE = `Usage: npm start -- [--order <id>] [--fail payment|inventory|shipping] [--flaky payment|inventory|shipping]

Processes an order (charge the card, reserve the items, create the shipment) as a saga: when a step
fails for good, the steps that succeeded are undone in reverse order.

  --order <id>   the order id, also the run's idempotency key: the same id again returns the same
                 run instead of charging again (default: a new id)
  --fail <svc>   that service fails every call (payment: card declined; inventory: out of stock;
                 shipping: carrier down, retried, then given up)
  --flaky <svc>  that service loses its first response after doing the work: the step is retried
                 with the same idempotency key and the service does the work once`;

const SERVICES = ['payment', 'inventory', 'shipping'];
let values: { order?: string; fail?: string; flaky?: string; help?: boolean };
try {
  ({ values } = parseArgs({ options: { order: { type: 'string' }, fail: { type: 'string' }, flaky: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, strict: true }));
  for (const flag of ['fail', 'flaky'] as const) {
    const v = values[flag];
    if (v !== undefined && !SERVICES.includes(v)) throw new Error(`--${flag} ${JSON.stringify(v)}: use payment, inventory or shipping.`);
  }
  if (values.order !== undefined && !/^[A-Za-z0-9_-]{1,64}$/.test(values.order)) throw new Error(`--order ${JSON.stringify(values.order)}: use 1-64 letters, digits, "_" and "-".`);
} catch (err) {
  console.error(`${(err as Error).message}\n\n${USAGE}`);
  process.exit(2);
}
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
configureServices({ fail: values.fail as ServiceName | undefined, flaky: values.flaky as ServiceName | undefined });

const order: Order = {
  orderId: values.order ?? `order-${randomBytes(3).toString('hex')}`,
  customer: 'ana@example.com',
  address: '1 Main St, Springfield',
  items: [
    { sku: 'mug-blue', quantity: 2, unitCents: 1250 },
    { sku: 'tea-sencha', quantity: 1, unitCents: 899 },
  ],
};

let client: Client | undefined;
let worker: Worker | undefined;
try {
  client = await connect();
  worker = createWorker({ workflows: [processOrder], client });
  await worker.start();
  // One run per order: a second submission of the same order (a double click, a retried request)
  // returns the first run, which has charged the card once.
  const run = await client.startWith(processOrder, [order], { idempotencyKey: order.orderId });
  console.log(`order ${order.orderId}: ${formatCents(orderTotal(order))}, run ${run.runId}`);
  if (run.created === false) console.log(`the order was submitted before: this is its run (idempotency key "${order.orderId}"), nothing runs twice`);
  const printer = tail(run);
  const outcome = await run.result({ timeout: '2m' });
  await printer.stop();
  report(outcome);
} catch (err) {
  console.error(err instanceof DurablyError ? `${err.name}: ${err.message}` : err);
  process.exitCode = 1;
} finally {
  await worker?.stop();
  await client?.close();
}

function report(outcome: OrderOutcome): void {
  console.log('services:');
  const done = serviceLedger();
  if (done.length === 0) console.log('  (nothing done in this process)');
  for (const e of done) console.log(`  ${e.service}: ${e.action} ${e.detail}`);
  if (outcome.status === 'completed') {
    console.log(`result: order ${outcome.orderId} completed: charged (${outcome.chargeId}), reserved (${outcome.reservationId}), shipped (${outcome.trackingNumber})`);
  } else {
    const undone = outcome.compensations.map((c) => (c.ok ? c.name : `${c.name} FAILED: ${c.error}`));
    console.log(`result: order ${outcome.orderId} rolled back: ${outcome.failedStep} failed (${outcome.reason}); compensated: ${undone.length ? undone.join(', then ') : 'nothing to undo'}`);
  }
}

/** Prints the run's steps as they are recorded. */
function tail(run: RunHandle<OrderOutcome>): { stop(): Promise<void> } {
  let seq = 1;
  let stopped = false;
  const flush = async () => {
    for (const event of await run.events(seq)) {
      const line = describe(event);
      if (line) console.log(line);
      seq = event.seq + 1;
    }
  };
  const loop = (async () => {
    while (!stopped) {
      await flush();
      await new Promise((r) => setTimeout(r, 25));
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
      await flush();
    },
  };
}

function describe(e: DurablyEvent): string | undefined {
  switch (e.type) {
    case 'step_completed':
      return `  step ${e.data.name} done (attempt ${e.data.attempt}): ${JSON.stringify(deserialize(e.data.result))}`;
    case 'step_failed':
      return `  step ${e.data.name} attempt ${e.data.attempt} failed: ${e.data.error.message}${e.data.retryAt ? ', retrying' : ', giving up'}`;
    case 'run_completed':
      return '  run completed';
    case 'run_failed':
      return `  run failed: ${e.data.error.message}`;
    default:
      return undefined;
  }
}
