import { ReceiveMessageCommand, type Message } from '@aws-sdk/client-sqs';
import { deadLetterReason, type Delivery, type MessageHandler } from '@durably/contracts';
import { sleep, type Sqs } from './client.js';
import { ATTR, decodeBody } from './codec.js';
import type { QueueUrls } from './queues.js';

export interface ConsumerSettings {
  concurrency: number;
  /** Whole seconds (SQS's unit), at least 1. */
  visibilitySeconds: number;
  maxDeliveries: number;
  waitSeconds: number;
  retryBackoffMs: (deliveryCount: number) => number;
}

/** What a consumer needs of its broker: the client, batched calls, dead-lettering, and whether it closed. */
export interface ConsumerHost {
  readonly sqs: Sqs;
  /** Receives in flight in every consumer (stopped ones included), cut when the broker closes. */
  readonly polls: Set<AbortController>;
  readonly isClosed: boolean;
  ack(queueUrl: string, receipt: string): Promise<void>;
  setVisibility(queueUrl: string, receipt: string, seconds: number): Promise<void>;
  deadLetter(urls: QueueUrls, message: Message, reason: string, deliveryCount: number): Promise<void>;
}

/** SQS keeps a message invisible for at most 12 hours in all. */
const MAX_VISIBILITY_SECONDS = 43_200;

/**
 * One subscription: a long-polling receiver, joined by more (one per 10 of concurrency, at most 4)
 * while receives come back full, each asking for as many messages as there are free handler slots
 * (at most 10, SQS's batch). An idle subscription so keeps one poll open, not four. A delivered
 * message's visibility is extended every third of the timeout while its handler runs; a resolved
 * handler deletes it (batched), a thrown one makes it visible again after the backoff, or dead-letters it.
 */
export class SqsConsumer {
  private active = true;
  private readonly inflight = new Map<string, Promise<void>>();
  private reserved = 0;
  private readonly polls = new Set<AbortController>();
  private waiters: Array<() => void> = [];
  private leaseTimer?: NodeJS.Timeout;

  constructor(
    private readonly host: ConsumerHost,
    readonly queue: string,
    private readonly urls: QueueUrls,
    private readonly handler: MessageHandler,
    private readonly settings: ConsumerSettings,
  ) {}

  private receivers = 0;

  start(): void {
    this.addReceiver();
    this.leaseTimer = setInterval(() => void this.extendLeases(), Math.max(250, (this.settings.visibilitySeconds * 1000) / 3));
    this.leaseTimer.unref();
  }

  private freeSlot(): void {
    const waiting = this.waiters.splice(0);
    for (const w of waiting) w();
  }

  private addReceiver(): void {
    this.receivers++;
    void this.receive(this.receivers === 1).finally(() => this.receivers--);
  }

  /** The lead receiver polls for the subscription's lifetime; the others while there is a backlog. */
  private async receive(lead: boolean): Promise<void> {
    let failures = 0;
    while (this.active) {
      const free = this.settings.concurrency - this.inflight.size - this.reserved;
      if (free <= 0) {
        await new Promise<void>((resolve) => this.waiters.push(resolve));
        continue;
      }
      const n = Math.min(10, free);
      this.reserved += n;
      const abort = new AbortController();
      this.polls.add(abort);
      this.host.polls.add(abort);
      let messages: Message[];
      try {
        const out = await this.host.sqs.send<{ Messages?: Message[] }>(
          `receive from "${this.queue}"`,
          new ReceiveMessageCommand({
            QueueUrl: this.urls.url,
            MaxNumberOfMessages: n,
            WaitTimeSeconds: this.settings.waitSeconds,
            VisibilityTimeout: this.settings.visibilitySeconds,
            MessageAttributeNames: ['All'],
            MessageSystemAttributeNames: ['ApproximateReceiveCount', 'ApproximateFirstReceiveTimestamp'],
          }),
          { abortSignal: abort.signal },
        );
        messages = out.Messages ?? [];
        failures = 0;
      } catch {
        if (!this.active) return;
        // SQS is away or throttling: back off, then poll again.
        await sleep(Math.min(100 * 2 ** failures++, 5000));
        continue;
      } finally {
        this.reserved -= n;
        this.polls.delete(abort);
        this.host.polls.delete(abort);
      }
      if (!this.active) {
        // Received while stopping: give them back at once rather than after the visibility timeout.
        if (!this.host.isClosed) for (const m of messages) void this.host.setVisibility(this.urls.url, m.ReceiptHandle!, 0).catch(() => undefined);
        return;
      }
      for (const m of messages) this.handle(m);
      if (messages.length === n && this.receivers < Math.min(4, Math.ceil(this.settings.concurrency / 10))) this.addReceiver();
      else if (!lead && messages.length < n) return;
    }
  }

  private handle(m: Message): void {
    const receipt = m.ReceiptHandle!;
    const attrs = m.MessageAttributes;
    let deliveryCount = Number(m.Attributes?.ApproximateReceiveCount ?? 1);
    const notBefore = Number(attrs?.[ATTR.notBefore]?.StringValue ?? 0);
    if (notBefore > 0) {
      // FIFO queues have no per-message delay: an early message is hidden until it is due.
      const wait = notBefore - Date.now();
      if (wait > 0) {
        void this.host.setVisibility(this.urls.url, receipt, Math.min(MAX_VISIBILITY_SECONDS, Math.ceil(wait / 1000))).catch(() => undefined);
        return;
      }
      // The receive that hid it was not a delivery.
      if (Number(m.Attributes?.ApproximateFirstReceiveTimestamp ?? notBefore) < notBefore) deliveryCount = Math.max(1, deliveryCount - 1);
    }
    const delivery: Delivery = { id: m.MessageId!, queue: this.queue, body: decodeBody(m.Body ?? '', attrs), deliveryCount };
    const task = (async () => {
      let failed = false;
      let failure: unknown;
      try {
        await this.handler(delivery);
      } catch (err) {
        failed = true;
        failure = err;
      }
      if (this.host.isClosed || !this.inflight.has(receipt)) return; // abandoned: it comes back after its timeout
      try {
        if (!failed) return await this.host.ack(this.urls.url, receipt);
        const reason = deadLetterReason(failure, deliveryCount, this.settings.maxDeliveries);
        if (reason !== undefined) return await this.host.deadLetter(this.urls, m, reason, deliveryCount);
        const seconds = Math.ceil(this.settings.retryBackoffMs(deliveryCount) / 1000);
        await this.host.setVisibility(this.urls.url, receipt, Math.min(MAX_VISIBILITY_SECONDS, seconds));
      } catch {
        // Not acknowledged: SQS delivers it again after the visibility timeout.
      }
    })();
    this.inflight.set(
      receipt,
      task.finally(() => {
        this.inflight.delete(receipt);
        this.freeSlot();
      }),
    );
  }

  /** Live handlers keep their messages invisible to every other consumer. */
  private async extendLeases(): Promise<void> {
    if (this.inflight.size === 0 || this.host.isClosed) return;
    await Promise.all([...this.inflight.keys()].map((r) => this.host.setVisibility(this.urls.url, r, this.settings.visibilitySeconds).catch(() => undefined)));
  }

  /**
   * Stops taking messages and waits for the running handlers. A long poll in flight is not cut: SQS
   * keeps serving a receive whose client went away (the message it takes would stay invisible for the
   * visibility timeout), so the poll is left to return in the background and what it brings is made
   * visible again at once.
   */
  async stop(): Promise<void> {
    this.active = false;
    this.freeSlot();
    await Promise.allSettled([...this.inflight.values()]);
    clearInterval(this.leaseTimer);
  }

  /**
   * As if the process died: nothing more is acknowledged; messages come back after their timeout.
   * (Polls are cut, and one that SQS still serves may take a message for that long too.)
   */
  abandon(): void {
    this.active = false;
    for (const p of this.polls) p.abort();
    clearInterval(this.leaseTimer);
    this.inflight.clear();
    this.freeSlot();
  }
}
