import { PoisonMessageError } from './errors.js';

/** Redelivery delay after the n-th failed delivery: 100 ms, doubling, at most 5 s. */
export function defaultRetryBackoffMs(deliveryCount: number): number {
  return Math.min(100 * 2 ** (deliveryCount - 1), 5000);
}

/**
 * Why a failed delivery goes to the dead-letter queue, or undefined when it should be redelivered:
 * a PoisonMessageError goes at once; any other error once `maxDeliveries` deliveries have failed.
 * Shared by every broker so that they dead-letter alike.
 */
export function deadLetterReason(error: unknown, deliveryCount: number, maxDeliveries: number): string | undefined {
  const message = (error as Error)?.message ?? String(error);
  if (error instanceof PoisonMessageError || (error as { code?: unknown })?.code === 'POISON_MESSAGE') return message;
  if (deliveryCount >= maxDeliveries) return `failed ${deliveryCount} times; last error: ${message}`;
  return undefined;
}
