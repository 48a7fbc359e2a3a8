import { randomUUID, createHash } from 'node:crypto';
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  ListQueuesCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  type Message,
  type MessageAttributeValue,
  type SendMessageBatchRequestEntry,
} from '@aws-sdk/client-sqs';
import { BrokerError, InvalidArgumentError, defaultRetryBackoffMs, type Broker, type ConsumeOptions, type DeadLetter, type MessageHandler, type PublishOptions, type Subscription } from '@durably/contracts';
import { Batcher, type EntryResult } from './batcher.js';
import { Sqs } from './client.js';
import { ATTR, MAX_MESSAGE_BYTES, checkSize, encodeBody, messageBytes, num } from './codec.js';
import { SqsConsumer } from './consumer.js';
import { peekDeadLetters, sendToDeadLetters } from './dead-letters.js';
import { brokerOptionsFromUrl, checkBrokerOptions, openSqs, type SqsBrokerOptions } from './options.js';
import { Queues, type QueueUrls } from './queues.js';

/** SQS's longest DelaySeconds (15 minutes); the engine covers longer delays. */
export const SQS_MAX_DELAY_MS = 900_000;

interface Outgoing {
  entry: Omit<SendMessageBatchRequestEntry, 'Id'>;
  bytes: number;
}

/** A FIFO MessageDeduplicationId / MessageGroupId: at most 128 characters. */
const idFor = (key: string) => (/^[A-Za-z0-9_.:-]{1,128}$/.test(key) ? key : createHash('sha256').update(key).digest('hex'));

/**
 * Durably broker on Amazon SQS: one standard queue per Durably queue (FIFO as an option), each with
 * a dead-letter queue and a RedrivePolicy. Consumers long-poll; publishes, acks (deletes) and
 * visibility changes made in the same tick go out as batch calls of up to 10; visibility is extended
 * while a handler runs. Delays use DelaySeconds (whole seconds, rounded up, at most 15 minutes).
 */
export class SqsBroker implements Broker {
  readonly maxDelayMs = SQS_MAX_DELAY_MS;
  readonly sqs: Sqs;
  private readonly owned: boolean;
  private readonly queues: Queues;
  private readonly fifo: boolean;
  private readonly waitSeconds: number;
  private readonly maxReceiveCount: number;
  private readonly consumers = new Set<SqsConsumer>();
  readonly polls = new Set<AbortController>();
  private readonly senders = new Map<string, Batcher<Outgoing>>();
  private readonly deleters = new Map<string, Batcher<string>>();
  private readonly changers = new Map<string, Batcher<{ receipt: string; seconds: number }>>();

  constructor(private readonly options: SqsBrokerOptions) {
    const checked = checkBrokerOptions(options);
    this.waitSeconds = checked.waitSeconds;
    this.maxReceiveCount = checked.maxReceiveCount;
    this.fifo = options.fifo ?? false;
    const { client, owned, where } = openSqs(options);
    this.sqs = new Sqs(client, where);
    this.owned = owned;
    this.queues = new Queues(this.sqs, options.prefix, this.fifo, this.maxReceiveCount);
  }

  /** `sqs://PREFIX?region=..&endpoint=..` */
  static fromUrl(url: string): SqsBroker {
    return new SqsBroker(brokerOptionsFromUrl(url));
  }

  get isClosed(): boolean {
    return this.sqs.closed;
  }

  /** SQS requests this broker has sent, by operation. */
  get requests(): Record<string, number> {
    return this.sqs.requests;
  }

  /** The SQS name of a Durably queue (or of its dead-letter queue). */
  queueName(queue: string, dlq = false): string {
    return this.queues.name(queue, dlq);
  }

  /** Queues are created when first used; this checks that SQS answers with these credentials. */
  async migrate(): Promise<void> {
    await this.sqs.send('list queues (checking access)', new ListQueuesCommand({ QueueNamePrefix: this.options.prefix, MaxResults: 1 }));
  }

  async publish(queue: string, body: string, options: PublishOptions = {}): Promise<void> {
    if (this.isClosed) throw new BrokerError('This SqsBroker is closed.');
    const urls = await this.queues.urls(queue);
    const encoded = encodeBody(body);
    const attributes: Record<string, MessageAttributeValue> = { ...encoded.attributes };
    const delayMs = Math.min(Math.max(0, options.delayMs ?? 0), SQS_MAX_DELAY_MS);
    const entry: Outgoing['entry'] = { MessageBody: encoded.body, MessageAttributes: attributes };
    if (this.fifo) {
      // FIFO queues take no per-message delay: the consumer hides an early message until it is due.
      if (delayMs > 0) attributes[ATTR.notBefore] = num(Date.now() + delayMs);
      entry.MessageGroupId = options.dedupKey !== undefined ? idFor(options.dedupKey) : randomUUID();
      entry.MessageDeduplicationId = options.dedupKey !== undefined ? idFor(options.dedupKey) : randomUUID();
    } else if (delayMs > 0) {
      // Rounded up: a delayed message never comes early.
      entry.DelaySeconds = Math.ceil(delayMs / 1000);
    }
    const bytes = messageBytes(entry.MessageBody!, attributes);
    checkSize(queue, bytes);
    await this.sender(urls.url).add({ entry, bytes });
  }

  private sender(url: string): Batcher<Outgoing> {
    let b = this.senders.get(url);
    if (!b) {
      b = new Batcher<Outgoing>((items) => this.sendBatch(url, items), (o) => o.bytes, MAX_MESSAGE_BYTES);
      this.senders.set(url, b);
    }
    return b;
  }

  private async sendBatch(url: string, items: Outgoing[]): Promise<EntryResult<void>[]> {
    if (items.length === 1) {
      await this.sqs.send('publish', new SendMessageCommand({ QueueUrl: url, ...items[0].entry }));
      return [{ ok: true, value: undefined }];
    }
    const out = await this.sqs.send<{ Failed?: Array<{ Id?: string; Message?: string; SenderFault?: boolean; Code?: string }> }>(
      'publish',
      new SendMessageBatchCommand({ QueueUrl: url, Entries: items.map((o, i) => ({ Id: String(i), ...o.entry })) }),
    );
    const failed = new Map((out.Failed ?? []).map((f) => [Number(f.Id), f]));
    return Promise.all(
      items.map(async (o, i): Promise<EntryResult<void>> => {
        const f = failed.get(i);
        if (!f) return { ok: true, value: undefined };
        if (f.SenderFault) return { ok: false, error: new BrokerError(`SQS refused a message: ${f.Code}: ${f.Message}`) };
        // A server-side failure of one entry: send it on its own (the SDK retries that call).
        try {
          await this.sqs.send('publish', new SendMessageCommand({ QueueUrl: url, ...o.entry }));
          return { ok: true, value: undefined };
        } catch (error) {
          return { ok: false, error };
        }
      }),
    );
  }

  /** Acknowledges (deletes) a received message; deletes in the same tick share a DeleteMessageBatch. */
  ack(url: string, receipt: string): Promise<void> {
    let b = this.deleters.get(url);
    if (!b) {
      b = new Batcher<string>(async (receipts) => {
        const out = await this.sqs.send<{ Failed?: Array<{ Id?: string; Message?: string }> }>(
          'acknowledge messages',
          new DeleteMessageBatchCommand({ QueueUrl: url, Entries: receipts.map((ReceiptHandle, i) => ({ Id: String(i), ReceiptHandle })) }),
        );
        const failed = new Map((out.Failed ?? []).map((f) => [Number(f.Id), f]));
        return receipts.map((_, i) => (failed.has(i) ? { ok: false, error: new BrokerError(`SQS did not delete a message: ${failed.get(i)!.Message}`) } : { ok: true, value: undefined }));
      });
      this.deleters.set(url, b);
    }
    return b.add(receipt);
  }

  /** Changes a received message's visibility; changes in the same tick share a ChangeMessageVisibilityBatch. */
  setVisibility(url: string, receipt: string, seconds: number): Promise<void> {
    let b = this.changers.get(url);
    if (!b) {
      b = new Batcher<{ receipt: string; seconds: number }>(async (items) => {
        const out = await this.sqs.send<{ Failed?: Array<{ Id?: string; Message?: string }> }>(
          'change message visibility',
          new ChangeMessageVisibilityBatchCommand({ QueueUrl: url, Entries: items.map((x, i) => ({ Id: String(i), ReceiptHandle: x.receipt, VisibilityTimeout: x.seconds })) }),
        );
        const failed = new Map((out.Failed ?? []).map((f) => [Number(f.Id), f]));
        return items.map((_, i) => (failed.has(i) ? { ok: false, error: new BrokerError(`SQS did not change a message's visibility: ${failed.get(i)!.Message}`) } : { ok: true, value: undefined }));
      });
      this.changers.set(url, b);
    }
    return b.add({ receipt, seconds });
  }

  /** Sends a message to its dead-letter queue with the reason, then deletes it from its queue. */
  async deadLetter(urls: QueueUrls, message: Message, reason: string, deliveryCount: number): Promise<void> {
    await sendToDeadLetters(this.sqs, urls.dlqUrl, this.fifo, message, reason, deliveryCount);
    await this.ack(urls.url, message.ReceiptHandle!);
  }

  async consume(queue: string, handler: MessageHandler, options: ConsumeOptions): Promise<Subscription> {
    if (this.isClosed) throw new BrokerError('This SqsBroker is closed.');
    const maxDeliveries = options.maxDeliveries ?? 10;
    if (maxDeliveries >= this.maxReceiveCount) {
      throw new InvalidArgumentError(
        `consume("${queue}"): maxDeliveries ${maxDeliveries} must be below the SQS broker's maxReceiveCount (${this.maxReceiveCount}), or SQS's redrive would take the message first, without its error. Raise maxReceiveCount (the option, or &maxReceiveCount= in the URL).`,
      );
    }
    const urls = await this.queues.urls(queue);
    const consumer = new SqsConsumer(this, queue, urls, handler, {
      concurrency: Math.max(1, options.concurrency),
      visibilitySeconds: Math.max(1, Math.ceil((options.visibilityTimeoutMs ?? 30_000) / 1000)),
      maxDeliveries,
      waitSeconds: this.waitSeconds,
      retryBackoffMs: this.options.retryBackoffMs ?? defaultRetryBackoffMs,
    });
    this.consumers.add(consumer);
    consumer.start();
    return {
      stop: async () => {
        this.consumers.delete(consumer);
        await consumer.stop();
      },
    };
  }

  async deadLetters(queue: string, limit = 100): Promise<DeadLetter[]> {
    const urls = await this.queues.urls(queue);
    return peekDeadLetters(this.sqs, urls.dlqUrl, queue, limit, this.maxReceiveCount);
  }

  async close(): Promise<void> {
    if (this.isClosed) return;
    for (const c of this.consumers) c.abandon();
    this.consumers.clear();
    // Polls left running by stopped consumers, too: an open request would keep the process alive.
    for (const p of this.polls) p.abort();
    this.polls.clear();
    this.sqs.closed = true;
    if (this.owned) this.sqs.client.destroy();
  }
}
