import type { MessageAttributeValue } from '@aws-sdk/client-sqs';
import { BrokerError } from '@durably/contracts';

/** SQS's largest message, body and attributes together (1 MiB since August 2025). */
export const MAX_MESSAGE_BYTES = 1024 * 1024;

/** Characters SQS accepts in a message body; anything else (control characters, lone surrogates) is sent encoded. */
const DISALLOWED = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

export const ATTR = {
  encoding: 'durably.enc',
  notBefore: 'durably.nb',
  reason: 'durably.reason',
  count: 'durably.count',
  id: 'durably.id',
  at: 'durably.at',
} as const;

export const str = (value: string): MessageAttributeValue => ({ DataType: 'String', StringValue: value });
export const num = (value: number): MessageAttributeValue => ({ DataType: 'Number', StringValue: String(value) });

/** The SQS body for an opaque string: itself, or (when SQS would refuse a character) its UTF-16 code units in base64. */
export function encodeBody(body: string): { body: string; attributes: Record<string, MessageAttributeValue> } {
  if (!DISALLOWED.test(body)) return { body, attributes: {} };
  return { body: Buffer.from(body, 'utf16le').toString('base64'), attributes: { [ATTR.encoding]: str('utf16le-base64') } };
}

export function decodeBody(body: string, attributes: Record<string, MessageAttributeValue> | undefined): string {
  return attributes?.[ATTR.encoding]?.StringValue === 'utf16le-base64' ? Buffer.from(body, 'base64').toString('utf16le') : body;
}

/** Bytes SQS counts for a message: body plus each attribute's name, type and value. */
export function messageBytes(body: string, attributes: Record<string, MessageAttributeValue>): number {
  let n = Buffer.byteLength(body, 'utf8');
  for (const [name, a] of Object.entries(attributes)) n += Buffer.byteLength(name) + (a.DataType?.length ?? 0) + Buffer.byteLength(a.StringValue ?? '');
  return n;
}

export function checkSize(queue: string, bytes: number): void {
  if (bytes > MAX_MESSAGE_BYTES) {
    throw new BrokerError(`A message of ${bytes} bytes for queue "${queue}" is larger than SQS allows (${MAX_MESSAGE_BYTES} bytes with its attributes). Keep step arguments smaller (limits.maxPayloadBytes), or use another broker for such payloads.`);
  }
}
