import { CancelledError, StepFailedError, stepContext, step, workflow } from '@durably/core';
import { Saga, type CompensationOutcome } from './saga.js';
import { inventory, payments, shipping } from './services.js';

export interface Order {
  orderId: string;
  customer: string;
  address: string;
  items: Array<{ sku: string; quantity: number; unitCents: number }>;
}

export type OrderOutcome =
  | { status: 'completed'; orderId: string; chargeId: string; reservationId: string; trackingNumber: string }
  | { status: 'rolled_back'; orderId: string; failedStep: string; reason: string; compensations: CompensationOutcome[] };

// Every call passes the step's idempotency key (stable across attempts and workers) to the service,
// so a step that runs twice (at least once per attempt) changes the world once.
const key = () => stepContext().idempotencyKey;
const fast = { initial: '100ms', factor: 2, max: '1s' } as const;

export const chargePayment = step('charge-payment', (orderId: string, cents: number) => payments.charge(key(), orderId, cents), { retries: 3, backoff: fast });
export const reserveInventory = step('reserve-inventory', (orderId: string, items: Order['items']) => inventory.reserve(key(), orderId, items), { retries: 3, backoff: fast });
export const createShipment = step('create-shipment', (orderId: string, address: string) => shipping.createShipment(key(), orderId, address), { retries: 2, backoff: fast });

// Compensations retry longer: giving up on an undo leaves the customer charged for nothing.
export const refundPayment = step('refund-payment', (orderId: string, chargeId: string, cents: number) => payments.refund(key(), orderId, chargeId, cents), { retries: 10, backoff: fast });
export const releaseInventory = step('release-inventory', (orderId: string, reservationId: string) => inventory.release(key(), orderId, reservationId), { retries: 10, backoff: fast });

export const orderTotal = (order: Order) => order.items.reduce((sum, i) => sum + i.quantity * i.unitCents, 0);

/** Payment, inventory, shipping; on a failure for good, the steps that succeeded are undone in reverse order. */
export const processOrder = workflow('order-processing', async (order: Order): Promise<OrderOutcome> => {
  const saga = new Saga();
  const cents = orderTotal(order);
  try {
    const { chargeId } = await chargePayment(order.orderId, cents);
    saga.onRollback('refund-payment', () => refundPayment(order.orderId, chargeId, cents));
    const { reservationId } = await reserveInventory(order.orderId, order.items);
    saga.onRollback('release-inventory', () => releaseInventory(order.orderId, reservationId));
    const { trackingNumber } = await createShipment(order.orderId, order.address);
    return { status: 'completed', orderId: order.orderId, chargeId, reservationId, trackingNumber };
  } catch (err) {
    const compensations = await saga.compensate();
    // A cancelled order is compensated too, then ends as cancelled.
    if (err instanceof CancelledError) throw err;
    if (!(err instanceof StepFailedError)) throw err;
    const reason = err.cause instanceof Error ? err.cause.message : String(err.cause);
    return { status: 'rolled_back', orderId: order.orderId, failedStep: err.stepName, reason, compensations };
  }
});
