import { CreateQueueCommand, GetQueueAttributesCommand, GetQueueUrlCommand } from '@aws-sdk/client-sqs';
import type { Sqs } from './client.js';
import { sqsQueueName } from './names.js';

export interface QueueUrls {
  url: string;
  dlqUrl: string;
}

/** 14 days, SQS's longest retention: a message nobody consumes is kept as long as SQS allows. */
const RETENTION_SECONDS = '1209600';

/**
 * Finds or creates the SQS queue of a Durably queue and its dead-letter queue, once per process.
 * The queue is created with a RedrivePolicy to its dead-letter queue (SQS moves a message there on
 * its own after maxReceiveCount receives). CreateQueue is idempotent for equal attributes, so
 * processes creating the same queue at once all succeed; a queue that exists with other attributes
 * (made by hand, or by another configuration) is used as it is, with the dead-letter queue its
 * RedrivePolicy names.
 */
export class Queues {
  private readonly known = new Map<string, Promise<QueueUrls>>();

  constructor(
    private readonly sqs: Sqs,
    private readonly prefix: string,
    private readonly fifo: boolean,
    private readonly maxReceiveCount: number,
  ) {}

  name(queue: string, dlq = false): string {
    return sqsQueueName(this.prefix, queue, { dlq, fifo: this.fifo });
  }

  urls(queue: string): Promise<QueueUrls> {
    let p = this.known.get(queue);
    if (!p) {
      p = this.resolve(queue);
      this.known.set(queue, p);
      p.catch(() => this.known.delete(queue));
    }
    return p;
  }

  private async urlOf(name: string): Promise<string | undefined> {
    try {
      const out = await this.sqs.send<{ QueueUrl?: string }>(`find queue ${name}`, new GetQueueUrlCommand({ QueueName: name }), { pass: ['QueueDoesNotExist', 'AWS.SimpleQueueService.NonExistentQueue'] });
      return out.QueueUrl;
    } catch (err) {
      const name = (err as { name?: string }).name;
      if (name === 'QueueDoesNotExist' || name === 'AWS.SimpleQueueService.NonExistentQueue') return undefined;
      throw err;
    }
  }

  private async create(name: string, attributes: Record<string, string>): Promise<string> {
    try {
      const out = await this.sqs.send<{ QueueUrl?: string }>(`create queue ${name}`, new CreateQueueCommand({ QueueName: name, Attributes: attributes }), { pass: ['QueueNameExists'] });
      return out.QueueUrl!;
    } catch (err) {
      if ((err as { name?: string }).name !== 'QueueNameExists') throw err;
      // Created meanwhile with other attributes: use it.
      return (await this.urlOf(name))!;
    }
  }

  private fifoAttributes(): Record<string, string> {
    // One message group per message (or dedup key): no message waits behind another, and the
    // high-throughput mode applies (deduplication per group).
    return this.fifo ? { FifoQueue: 'true', DeduplicationScope: 'messageGroup', FifoThroughputLimit: 'perMessageGroupId' } : {};
  }

  private async resolve(queue: string): Promise<QueueUrls> {
    const mainName = this.name(queue);
    const dlqName = this.name(queue, true);
    const existing = await this.urlOf(mainName);
    if (existing) {
      const attrs = await this.sqs.send<{ Attributes?: Record<string, string> }>(`read queue ${mainName}`, new GetQueueAttributesCommand({ QueueUrl: existing, AttributeNames: ['RedrivePolicy'] }));
      const target = attrs.Attributes?.RedrivePolicy ? (JSON.parse(attrs.Attributes.RedrivePolicy) as { deadLetterTargetArn?: string }).deadLetterTargetArn : undefined;
      const named = target?.split(':').pop();
      const dlqUrl = (named ? await this.urlOf(named) : undefined) ?? (await this.create(dlqName, { MessageRetentionPeriod: RETENTION_SECONDS, ...this.fifoAttributes() }));
      return { url: existing, dlqUrl };
    }
    const dlqUrl = await this.create(dlqName, { MessageRetentionPeriod: RETENTION_SECONDS, ...this.fifoAttributes() });
    const arn = await this.sqs.send<{ Attributes?: Record<string, string> }>(`read queue ${dlqName}`, new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['QueueArn'] }));
    const url = await this.create(mainName, {
      MessageRetentionPeriod: RETENTION_SECONDS,
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: arn.Attributes!.QueueArn, maxReceiveCount: this.maxReceiveCount }),
      ...this.fifoAttributes(),
    });
    return { url, dlqUrl };
  }
}
