import { ChangeMessageVisibilityBatchCommand, ReceiveMessageCommand, SendMessageCommand, type Message, type MessageAttributeValue } from '@aws-sdk/client-sqs';
import type { DeadLetter } from '@durably/contracts';
import type { Sqs } from './client.js';
import { ATTR, decodeBody, num, str } from './codec.js';

/**
 * Dead letters live in each queue's SQS dead-letter queue. A message Durably dead-letters (a poison
 * message, or one that failed maxDeliveries times) is sent there with its reason, delivery count,
 * original id and time as message attributes, then deleted from its queue. A message SQS's own
 * redrive moved there (received maxReceiveCount times without an ack: its consumers kept dying)
 * has no reason attribute; deadLetters() says so.
 *
 * SQS has no way to list a queue: deadLetters() peeks by receiving with a 30 s visibility timeout,
 * then makes what it received visible again at once. The broker does not depend on the storage, so
 * there is no side table; the price is that a peek briefly hides the dead letters from another peek.
 */
export async function sendToDeadLetters(sqs: Sqs, dlqUrl: string, fifo: boolean, message: Message, reason: string, deliveryCount: number): Promise<void> {
  const attributes: Record<string, MessageAttributeValue> = {
    [ATTR.reason]: str(reason.length > 8000 ? `${reason.slice(0, 8000)}…` : reason),
    [ATTR.count]: num(deliveryCount),
    [ATTR.id]: str(message.MessageId!),
    [ATTR.at]: num(Date.now()),
  };
  const encoding = message.MessageAttributes?.[ATTR.encoding];
  if (encoding) attributes[ATTR.encoding] = encoding;
  await sqs.send(
    'dead-letter a message',
    new SendMessageCommand({
      QueueUrl: dlqUrl,
      MessageBody: message.Body!,
      MessageAttributes: attributes,
      // FIFO: a dead letter sent twice (a crash before the delete) is kept once.
      ...(fifo ? { MessageGroupId: message.MessageId, MessageDeduplicationId: message.MessageId } : {}),
    }),
  );
}

export async function peekDeadLetters(sqs: Sqs, dlqUrl: string, queue: string, limit: number, maxReceiveCount: number): Promise<DeadLetter[]> {
  const byId = new Map<string, DeadLetter>();
  const receipts: string[] = [];
  try {
    while (byId.size < limit) {
      const out = await sqs.send<{ Messages?: Message[] }>(
        'read dead letters',
        new ReceiveMessageCommand({
          QueueUrl: dlqUrl,
          MaxNumberOfMessages: Math.min(10, limit - byId.size),
          VisibilityTimeout: 30,
          // A long poll asks every SQS server; a short one only some, and may miss messages.
          WaitTimeSeconds: 1,
          MessageAttributeNames: ['All'],
          MessageSystemAttributeNames: ['SentTimestamp', 'ApproximateReceiveCount'],
        }),
      );
      const messages = out.Messages ?? [];
      if (messages.length === 0) break;
      for (const m of messages) {
        receipts.push(m.ReceiptHandle!);
        const a = m.MessageAttributes ?? {};
        const letter: DeadLetter = {
          id: a[ATTR.id]?.StringValue ?? m.MessageId!,
          queue,
          body: decodeBody(m.Body ?? '', a),
          reason: a[ATTR.reason]?.StringValue ?? `received ${maxReceiveCount} times without being acknowledged (its consumers kept dying or timing out); moved by the SQS redrive policy`,
          deliveryCount: Number(a[ATTR.count]?.StringValue ?? maxReceiveCount),
          at: Number(a[ATTR.at]?.StringValue ?? m.Attributes?.SentTimestamp ?? 0),
        };
        const seen = byId.get(letter.id);
        if (!seen || seen.at < letter.at) byId.set(letter.id, letter);
      }
    }
  } finally {
    for (let i = 0; i < receipts.length; i += 10) {
      await sqs
        .send('release dead letters', new ChangeMessageVisibilityBatchCommand({ QueueUrl: dlqUrl, Entries: receipts.slice(i, i + 10).map((ReceiptHandle, j) => ({ Id: String(j), ReceiptHandle, VisibilityTimeout: 0 })) }))
        .catch(() => undefined);
    }
  }
  return [...byId.values()].sort((a, b) => a.at - b.at || (a.id < b.id ? -1 : 1)).slice(0, limit);
}
