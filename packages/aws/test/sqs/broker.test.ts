import { GetQueueAttributesCommand, GetQueueUrlCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterEach, describe, expect, it } from 'vitest';
import { BrokerError, InvalidArgumentError, type Delivery } from '@durably/core';
import { SqsBroker } from '../../src/index.js';
import { REGION, SQS_ENDPOINT, uniqueName } from '../harness.js';

// What the conformance suite does not look at: SQS's own limits and calls.
const opened: SqsBroker[] = [];
const subs: Array<{ stop(): Promise<void> }> = [];
afterEach(async () => {
  await Promise.allSettled(subs.splice(0).map((s) => s.stop()));
  await Promise.allSettled(opened.splice(0).map((b) => b.close()));
});
function broker(options: Partial<ConstructorParameters<typeof SqsBroker>[0]> = {}): SqsBroker {
  const b = new SqsBroker({ prefix: uniqueName('t'), endpoint: SQS_ENDPOINT, region: REGION, ...options });
  opened.push(b);
  return b;
}
const raw = () => new SQSClient({ endpoint: SQS_ENDPOINT, region: REGION });
const urlOf = async (c: SQSClient, name: string) => (await c.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl!;
async function waitFor(check: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('SQS broker', () => {
  it('caps delays at DelaySeconds 900 (maxDelayMs 900,000) and leaves longer ones to the engine', async () => {
    const b = broker();
    expect(b.maxDelayMs).toBe(900_000);
    await b.publish('q', 'in an hour', { delayMs: 3_600_000 });
    const client = raw();
    const url = await urlOf(client, b.queueName('q'));
    const attrs = await client.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessagesDelayed', 'ApproximateNumberOfMessages'] }));
    expect(attrs.Attributes).toMatchObject({ ApproximateNumberOfMessagesDelayed: '1', ApproximateNumberOfMessages: '0' });
    client.destroy();
  });

  it('sends publishes of one tick as SendMessageBatch calls of up to 10, receives up to 10 a call, and acks as DeleteMessageBatch', async () => {
    const b = broker();
    await b.publish('q', 'warm-up'); // creates the queue: not part of the count
    const before = { ...b.requests };
    await Promise.all(Array.from({ length: 25 }, (_, i) => b.publish('q', `m${i}`)));
    expect((b.requests.SendMessageBatch ?? 0) - (before.SendMessageBatch ?? 0)).toBe(3);
    expect((b.requests.SendMessage ?? 0) - (before.SendMessage ?? 0)).toBe(0);
    const got: string[] = [];
    subs.push(await b.consume('q', async (d) => void got.push(d.body), { concurrency: 30 }));
    await waitFor(() => got.length === 26, 10_000, '26 messages');
    await new Promise((r) => setTimeout(r, 100));
    expect(b.requests.DeleteMessage ?? 0).toBe(0);
    expect(b.requests.DeleteMessageBatch).toBeLessThanOrEqual(6);
    // 26 waiting messages, up to 10 per receive (one empty long poll per receiver may be open too).
    expect(b.requests.ReceiveMessage).toBeLessThanOrEqual(10);
  });

  it('carries bodies with characters SQS refuses, and refuses a message over SQS size limit with a clear error', async () => {
    const b = broker();
    const odd = `nul\u0000 bell\u0007 lone\uD800 surrogate \uFFFE end`;
    const got: Delivery[] = [];
    subs.push(await b.consume('q', async (d) => void got.push(d), { concurrency: 2 }));
    await b.publish('q', odd);
    await waitFor(() => got.length === 1, 10_000, 'the message');
    expect(got[0].body).toBe(odd);
    const error = await b.publish('q', 'x'.repeat(1024 * 1024 + 1)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BrokerError);
    expect((error as Error).message).toContain('larger than SQS allows');
  });

  it('keeps the reason of a dead letter, and lists one moved by SQS redrive too, without taking them from the dead-letter queue', async () => {
    const b = broker({ maxReceiveCount: 2 });
    subs.push(
      await b.consume(
        'q',
        async (d) => {
          if (d.body === 'hang') await new Promise(() => undefined); // its consumer "dies" holding it
          throw new Error(`cannot handle ${d.body}`);
        },
        { concurrency: 2, maxDeliveries: 1, visibilityTimeoutMs: 1000 },
      ),
    );
    await b.publish('q', 'bad');
    await waitFor(async () => (await b.deadLetters('q')).length === 1, 15_000, 'the dead letter');
    const [dead] = await b.deadLetters('q');
    expect(dead).toMatchObject({ queue: 'q', body: 'bad', deliveryCount: 1 });
    expect(dead.reason).toContain('cannot handle bad');
    // Still there for the next look: a peek does not consume.
    expect(await b.deadLetters('q')).toHaveLength(1);

    // Received by a consumer that dies each time: SQS itself moves it after maxReceiveCount receives.
    const dying = broker({ prefix: (b as unknown as { options: { prefix: string } }).options.prefix, maxReceiveCount: 2 });
    await dying.publish('q2', 'hang');
    for (let i = 0; i < 2; i++) {
      const c = raw();
      const url = await urlOf(c, dying.queueName('q2'));
      await waitFor(async () => ((await c.send(new ReceiveMessageCommand({ QueueUrl: url, VisibilityTimeout: 1, WaitTimeSeconds: 1 }))).Messages?.length ?? 0) === 1, 10_000, `receive ${i + 1}`);
      c.destroy();
    }
    // The next receive finds it received maxReceiveCount times: SQS moves it instead of returning it.
    const c = raw();
    const url = await urlOf(c, dying.queueName('q2'));
    await new Promise((r) => setTimeout(r, 1100));
    expect((await c.send(new ReceiveMessageCommand({ QueueUrl: url, WaitTimeSeconds: 1 }))).Messages ?? []).toEqual([]);
    c.destroy();
    await waitFor(async () => (await dying.deadLetters('q2')).length === 1, 15_000, 'the redriven message');
    const [moved] = await dying.deadLetters('q2');
    expect(moved.body).toBe('hang');
    expect(moved.reason).toContain('SQS redrive');
  });

  it('refuses a maxDeliveries that SQS redrive would pre-empt', async () => {
    const b = broker({ maxReceiveCount: 5 });
    await expect(b.consume('q', async () => undefined, { concurrency: 1, maxDeliveries: 5 })).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});
