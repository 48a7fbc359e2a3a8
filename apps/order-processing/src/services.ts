/**
 * Stand-ins for the payment, inventory and shipping services an order calls. Each keeps a ledger of
 * what it did and, like a real payment API, de-duplicates calls by an idempotency key: a step that
 * runs again (its worker died after the charge, or the response was lost) passes the same key and
 * gets the first answer back instead of charging twice.
 *
 * `configureServices` injects failures, so the sample can show each path of the saga.
 */
import { FatalError } from '@durably/core';

export type ServiceName = 'payment' | 'inventory' | 'shipping';

export interface ServiceBehaviour {
  /** The service fails on every call: payment declines the card (fatal), inventory is out of stock (fatal), the carrier is down (retried, then fails for good). */
  fail?: ServiceName;
  /** The service does its work but the first response is lost (the call throws after the work was done): the retry must not do it twice. */
  flaky?: ServiceName;
}

export interface LedgerEntry {
  service: ServiceName;
  action: string;
  orderId: string;
  detail: string;
}

let behaviour: ServiceBehaviour = {};
const ledger: LedgerEntry[] = [];
/** Answers already given, by idempotency key (what a payment provider keeps for 24 hours). */
const answered = new Map<string, unknown>();
const lostOnce = new Set<string>();

export function configureServices(next: ServiceBehaviour): void {
  behaviour = next;
}

/** Everything the services did, in order. */
export function serviceLedger(): readonly LedgerEntry[] {
  return ledger;
}

/** Runs `work` once per idempotency key; the flaky service loses the first response. */
async function call<T>(service: ServiceName, key: string, work: () => T): Promise<T> {
  await new Promise((r) => setTimeout(r, 30)); // a network round trip
  if (answered.has(key)) return answered.get(key) as T;
  const result = work();
  answered.set(key, result);
  if (behaviour.flaky === service && !lostOnce.has(service)) {
    lostOnce.add(service);
    throw new Error(`${service} service: connection reset before the response arrived`);
  }
  return result;
}

const record = (service: ServiceName, action: string, orderId: string, detail: string) => ledger.push({ service, action, orderId, detail });

export const payments = {
  charge: (key: string, orderId: string, cents: number) =>
    call('payment', key, () => {
      if (behaviour.fail === 'payment') throw new FatalError(`card declined for order ${orderId}`);
      const chargeId = `ch_${orderId}`;
      record('payment', 'charged', orderId, `${formatCents(cents)} (${chargeId})`);
      return { chargeId, cents };
    }),
  refund: (key: string, orderId: string, chargeId: string, cents: number) =>
    call('payment', key, () => {
      record('payment', 'refunded', orderId, `${formatCents(cents)} (${chargeId})`);
      return { refundId: `re_${orderId}` };
    }),
};

export const inventory = {
  reserve: (key: string, orderId: string, items: Array<{ sku: string; quantity: number }>) =>
    call('inventory', key, () => {
      if (behaviour.fail === 'inventory') throw new FatalError(`out of stock: ${items.map((i) => i.sku).join(', ')}`);
      const reservationId = `rsv_${orderId}`;
      record('inventory', 'reserved', orderId, `${items.map((i) => `${i.quantity} x ${i.sku}`).join(', ')} (${reservationId})`);
      return { reservationId };
    }),
  release: (key: string, orderId: string, reservationId: string) =>
    call('inventory', key, () => {
      record('inventory', 'released', orderId, reservationId);
      return { released: true };
    }),
};

export const shipping = {
  createShipment: (key: string, orderId: string, address: string) =>
    call('shipping', key, () => {
      // Not fatal: a carrier that is down may come back, so the step retries before giving up.
      if (behaviour.fail === 'shipping') throw new Error('carrier API unavailable (503)');
      const trackingNumber = `trk_${orderId}`;
      record('shipping', 'shipment created', orderId, `to ${address} (${trackingNumber})`);
      return { trackingNumber };
    }),
};

export function formatCents(cents: number): string {
  return `$${(cents / 100).toFixed(2)}`;
}
