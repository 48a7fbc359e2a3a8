import { randomUUID } from 'node:crypto';
import type { Message, Options } from 'amqplib';
import type { DeadLetter } from '@durably/contracts';

/**
 * What a message carries besides its body. The body is the engine's string, as UTF-8 bytes; the
 * message id is the delivery id, kept by every copy the broker makes of a message (a retry, a lease,
 * a dead letter), so it is stable across redeliveries.
 */
export const HEADER = {
  /** Deliveries of this message before this copy was published (0 for a new message). */
  deliveries: 'x-durably-deliveries',
  /** Unique per publish, to match a returned (unroutable) message with its publish. */
  publish: 'x-durably-publish',
  /** Dead letters: why, and when (epoch ms). */
  reason: 'x-durably-reason',
  deadAt: 'x-durably-dead-at',
} as const;

export interface Envelope {
  id: string;
  content: Buffer;
  /** Deliveries so far. */
  deliveries: number;
}

export function newEnvelope(body: string): Envelope {
  return { id: randomUUID(), content: Buffer.from(body, 'utf8'), deliveries: 0 };
}

/** The envelope of a received message: its id, its bytes, and the deliveries made before this copy. */
export function envelopeOf(msg: Message): Envelope {
  const headers = msg.properties.headers ?? {};
  return {
    // A message published by another client may have no id: it gets one here, kept by its copies.
    id: typeof msg.properties.messageId === 'string' && msg.properties.messageId ? msg.properties.messageId : randomUUID(),
    content: msg.content,
    deliveries: toCount(headers[HEADER.deliveries]),
  };
}

/**
 * How many times this message has been delivered, this delivery included: the deliveries recorded
 * in the copy, plus the times the server gave this copy back (quorum queues count them in
 * `x-delivery-count`; for classic queues the consumer makes a new copy on each redelivery instead).
 */
export function deliveryCountOf(msg: Message): number {
  const headers = msg.properties.headers ?? {};
  return toCount(headers[HEADER.deliveries]) + toCount(headers['x-delivery-count']) + 1;
}

export function publishOptions(envelope: Envelope, publishId: string, extra: Record<string, unknown> = {}): Options.Publish {
  return {
    persistent: true,
    mandatory: true,
    messageId: envelope.id,
    contentType: 'text/plain; charset=utf-8',
    timestamp: Math.floor(Date.now() / 1000),
    headers: { [HEADER.deliveries]: envelope.deliveries, [HEADER.publish]: publishId, ...extra },
  };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The body as a string, or undefined when it is not UTF-8 (such a message can never be handled). */
export function decodeBody(content: Buffer): string | undefined {
  try {
    return utf8.decode(content);
  } catch {
    return undefined;
  }
}

/**
 * A message of a dead-letter queue as a DeadLetter. Ours carry their reason in headers; RabbitMQ's
 * own (a quorum queue's `x-delivery-limit`) carry `x-death`, and were delivered `deliveryLimit` + 1
 * times since their last copy.
 */
export function deadLetterOf(msg: Message, queue: string, deliveryLimit: number): DeadLetter {
  const headers = msg.properties.headers ?? {};
  const body = decodeBody(msg.content) ?? msg.content.toString('base64');
  const id = typeof msg.properties.messageId === 'string' ? msg.properties.messageId : '';
  if (typeof headers[HEADER.reason] === 'string') {
    return { id, queue, body, reason: headers[HEADER.reason], deliveryCount: toCount(headers[HEADER.deliveries]), at: toCount(headers[HEADER.deadAt]) };
  }
  const death = (Array.isArray(headers['x-death']) ? headers['x-death'][0] : undefined) as { reason?: string; time?: { value?: number } | number } | undefined;
  const serverReason = String(headers['x-first-death-reason'] ?? death?.reason ?? 'unknown');
  const time = typeof death?.time === 'number' ? death.time : death?.time?.value;
  return {
    id,
    queue,
    body,
    reason:
      serverReason === 'delivery_limit'
        ? `RabbitMQ dead-lettered it (delivery_limit): returned more than x-delivery-limit = ${deliveryLimit} times without an ack, as when its consumers keep dying while handling it`
        : `RabbitMQ dead-lettered it (${serverReason})`,
    deliveryCount: toCount(headers[HEADER.deliveries]) + (serverReason === 'delivery_limit' ? deliveryLimit + 1 : 0),
    at: time !== undefined ? time * 1000 : (msg.properties.timestamp ?? 0) * 1000,
  };
}

function toCount(value: unknown): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : typeof value === 'bigint' ? Number(value) : NaN;
  return Number.isFinite(n) && n > 0 ? Math.floor(n) : 0;
}
