import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { PoisonMessageError, type Broker, type Delivery, type Subscription } from '@durably/core';
import { itNeeds, resolveCapabilities, undeclaredAbsence, type Capabilities } from '../capabilities.js';

/** What a broker adapter gives `brokerSuite`: a way to open clients on the backend under test. */
export interface BrokerHarness {
  /** A new client on the same backend each call, as another process would have. */
  connect(): Promise<Broker>;
  /** Called after each test, once the clients it opened are closed: drop what the test left on the backend. */
  cleanup?(): Promise<void>;
}

/**
 * Options of `brokerSuite(name, harness, options)`: the visibility timeout its redelivery tests use, and
 * what the broker offers (anything not declared absent is expected, and tested).
 */
export interface BrokerSuiteOptions {
  /** Visibility timeout used in the redelivery tests. Default 1000 ms. */
  visibilityTimeoutMs?: number;
  /**
   * What the broker offers; what is not declared is expected. The broker suite reads `deadLetters`,
   * `removeDeadLetter`, `exactDeliveryCount`, `redeliversOnDisconnect` and `delayPrecisionMs`.
   */
  capabilities?: Partial<Capabilities>;
  /** @deprecated Declare `capabilities: { exactDeliveryCount: false }`; `true` here means that. */
  approximateDeliveryCount?: boolean;
  /** @deprecated Declare `capabilities: { redeliversOnDisconnect: true }`; the same flag. */
  redeliversOnDisconnect?: boolean;
}

/** The capabilities `options` declare, the two options of before mapped onto them. */
export function brokerCapabilities(options: BrokerSuiteOptions): Readonly<Capabilities> {
  const declared: Partial<Capabilities> = { ...options.capabilities };
  const legacy: Array<[keyof BrokerSuiteOptions, keyof Capabilities, boolean | undefined]> = [
    ['approximateDeliveryCount', 'exactDeliveryCount', options.approximateDeliveryCount === undefined ? undefined : !options.approximateDeliveryCount],
    ['redeliversOnDisconnect', 'redeliversOnDisconnect', options.redeliversOnDisconnect],
  ];
  for (const [option, capability, value] of legacy) {
    if (value === undefined) continue;
    if (declared[capability] !== undefined && declared[capability] !== value) {
      throw new TypeError(`brokerSuite: the option ${option} contradicts capabilities.${capability}; declare only capabilities.${capability}.`);
    }
    (declared as Record<string, unknown>)[capability] = value;
  }
  return resolveCapabilities(declared);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** The broker contract suite. Each test uses its own queue names, so one backend serves all tests. */
export function brokerSuite(name: string, createHarness: () => Promise<BrokerHarness>, options: BrokerSuiteOptions = {}): void {
  const vt = options.visibilityTimeoutMs ?? 1000;
  const capabilities = brokerCapabilities(options);

  describe(`broker conformance: ${name}`, () => {
    let harness: BrokerHarness | undefined;
    const clients: Broker[] = [];
    const subs: Subscription[] = [];

    async function connect(): Promise<Broker> {
      harness ??= await createHarness();
      const b = await harness.connect();
      await b.migrate();
      clients.push(b);
      return b;
    }

    async function consume(b: Broker, queue: string, handler: (d: Delivery) => Promise<void>, opts: { concurrency?: number; maxDeliveries?: number } = {}) {
      const sub = await b.consume(queue, handler, { concurrency: opts.concurrency ?? 5, visibilityTimeoutMs: vt, maxDeliveries: opts.maxDeliveries });
      subs.push(sub);
      return sub;
    }

    const q = () => `conf-${randomUUID().slice(0, 8)}`;

    afterEach(async () => {
      await Promise.allSettled(subs.splice(0).map((s) => Promise.race([s.stop(), sleep(2000)])));
      await Promise.allSettled(clients.splice(0).map((c) => c.close()));
      if (harness?.cleanup) await harness.cleanup();
      harness = undefined;
    });

    it('delivers a published message with its body, queue and a first delivery count', async () => {
      const b = await connect();
      const queue = q();
      const got: Delivery[] = [];
      await consume(b, queue, async (d) => void got.push(d));
      await b.publish(queue, '{"hello":"world"}');
      await waitFor(() => got.length === 1, 5000, 'the message');
      expect(got[0]).toMatchObject({ queue, body: '{"hello":"world"}', deliveryCount: 1 });
      expect(typeof got[0].id).toBe('string');
    });

    it('never redelivers an acked message', async () => {
      const b = await connect();
      const queue = q();
      let count = 0;
      await consume(b, queue, async () => void count++);
      await b.publish(queue, 'once');
      await waitFor(() => count === 1, 5000, 'the message');
      await sleep(vt * 1.5);
      expect(count).toBe(1);
    });

    it('redelivers a message whose handler threw, with the delivery count raised', async () => {
      const b = await connect();
      const queue = q();
      const counts: number[] = [];
      await consume(b, queue, async (d) => {
        counts.push(d.deliveryCount);
        if (d.deliveryCount === 1) throw new Error('transient');
      });
      await b.publish(queue, 'retry me');
      await waitFor(() => counts.length === 2, 10_000, 'the redelivery');
      await sleep(300);
      expect(counts).toEqual([1, 2]);
    });

    it('runs at most `concurrency` handlers at once', async () => {
      const b = await connect();
      const queue = q();
      let inFlight = 0;
      let max = 0;
      let done = 0;
      await consume(
        b,
        queue,
        async () => {
          inFlight++;
          max = Math.max(max, inFlight);
          await sleep(40);
          inFlight--;
          done++;
        },
        { concurrency: 3 },
      );
      await Promise.all(Array.from({ length: 20 }, (_, i) => b.publish(queue, `m${i}`)));
      await waitFor(() => done === 20, 15_000, 'all messages');
      expect(max).toBe(3);
    });

    it('delays a message by delayMs without holding back later undelayed ones', async () => {
      const b = await connect();
      const queue = q();
      const got: Array<{ body: string; at: number }> = [];
      await consume(b, queue, async (d) => void got.push({ body: d.body, at: Date.now() }));
      const t0 = Date.now();
      await b.publish(queue, 'late', { delayMs: 500 });
      await b.publish(queue, 'now');
      await waitFor(() => got.length === 2, 10_000 + capabilities.delayPrecisionMs, 'both messages');
      expect(got[0].body).toBe('now');
      expect(got[1].body).toBe('late');
      expect(got[1].at - t0).toBeGreaterThanOrEqual(450);
      // Not much later than due either: within the broker's declared precision, and a generous margin for load.
      expect(got[1].at - t0).toBeLessThan(500 + capabilities.delayPrecisionMs + 4000);
      expect(b.maxDelayMs).toBeGreaterThan(0);
    });

    it('redelivers to another client a message whose consumer died, after the visibility timeout', async () => {
      const a = await connect();
      const b = await connect();
      const queue = q();
      const first: Delivery[] = [];
      await consume(a, queue, async (d) => {
        first.push(d);
        await new Promise(() => undefined); // hangs: the "process" dies holding it
      });
      await a.publish(queue, 'survive me');
      await waitFor(() => first.length === 1, 5000, 'the first delivery');
      await a.close();
      const died = Date.now();
      const second: Delivery[] = [];
      await consume(b, queue, async (d) => void second.push(d));
      await waitFor(() => second.length === 1, vt * 10 + 5000, 'the redelivery');
      expect(second[0].id).toBe(first[0].id);
      expect(second[0].body).toBe('survive me');
      if (!capabilities.exactDeliveryCount) expect(second[0].deliveryCount).toBeGreaterThanOrEqual(2);
      else expect(second[0].deliveryCount).toBe(2);
      if (!capabilities.redeliversOnDisconnect) expect(Date.now() - died).toBeGreaterThanOrEqual(vt * 0.5);
    });

    it('keeps a long handler of a live client invisible to other consumers', async () => {
      const a = await connect();
      const b = await connect();
      const queue = q();
      const deliveries: string[] = [];
      let finished = false;
      const handler = async (d: Delivery) => {
        deliveries.push(d.id);
        await sleep(vt * 2.5);
        finished = true;
      };
      await consume(a, queue, handler);
      await consume(b, queue, handler);
      await a.publish(queue, 'long job');
      await waitFor(() => finished, vt * 10, 'the long handler');
      await sleep(200);
      expect(deliveries).toHaveLength(1);
    });

    itNeeds(capabilities, 'deadLetters', 'dead-letters a poison message at once and keeps the queue flowing', async () => {
      const b = await connect();
      const queue = q();
      const handled: string[] = [];
      let poisonCalls = 0;
      await consume(b, queue, async (d) => {
        if (d.body === 'poison') {
          poisonCalls++;
          throw new PoisonMessageError('cannot decode this');
        }
        handled.push(d.body);
      });
      await b.publish(queue, 'poison');
      await b.publish(queue, 'good-1');
      await b.publish(queue, 'good-2');
      await waitFor(() => handled.length === 2, 10_000, 'the good messages');
      let dead: Awaited<ReturnType<Broker['deadLetters']>> = [];
      const deadline = Date.now() + 5000;
      while (dead.length === 0 && Date.now() < deadline) {
        dead = await b.deadLetters(queue);
        await sleep(20);
      }
      expect(dead).toHaveLength(1);
      expect(dead[0]).toMatchObject({ queue, body: 'poison', deliveryCount: 1 });
      expect(dead[0].reason).toContain('cannot decode this');
      await sleep(300);
      expect(poisonCalls).toBe(1);
    });

    itNeeds(capabilities, ['deadLetters', 'removeDeadLetter'], 'removes one dead letter by id when the broker offers removeDeadLetter', async () => {
      const b = await connect();
      if (!b.removeDeadLetter) throw undeclaredAbsence('removeDeadLetter', 'Broker.removeDeadLetter');
      const queue = q();
      await consume(b, queue, async (d) => {
        throw new PoisonMessageError(`poison ${d.body}`);
      });
      await b.publish(queue, 'one');
      await b.publish(queue, 'two');
      let dead: Awaited<ReturnType<Broker['deadLetters']>> = [];
      const deadline = Date.now() + 10_000;
      while (dead.length < 2 && Date.now() < deadline) {
        dead = await b.deadLetters(queue);
        await sleep(20);
      }
      expect(dead.map((d) => d.body).sort()).toEqual(['one', 'two']);
      const one = dead.find((d) => d.body === 'one')!;
      expect(await b.removeDeadLetter(queue, one.id)).toBe(true);
      expect(await b.removeDeadLetter(queue, one.id)).toBe(false);
      expect((await b.deadLetters(queue)).map((d) => d.body)).toEqual(['two']);
    });

    itNeeds(capabilities, 'deadLetters', 'dead-letters a message that fails maxDeliveries times and stops delivering it', async () => {
      const b = await connect();
      const queue = q();
      let calls = 0;
      await consume(
        b,
        queue,
        async () => {
          calls++;
          throw new Error('always broken');
        },
        { maxDeliveries: 3 },
      );
      await b.publish(queue, 'doomed');
      let dead: Awaited<ReturnType<Broker['deadLetters']>> = [];
      const deadline = Date.now() + 20_000;
      while (dead.length === 0 && Date.now() < deadline) {
        dead = await b.deadLetters(queue);
        await sleep(50);
      }
      expect(dead).toHaveLength(1);
      expect(dead[0].deliveryCount).toBe(3);
      expect(dead[0].reason).toContain('always broken');
      await sleep(500);
      expect(calls).toBe(3);
    });

    it('stop() waits for running handlers, keeps their acks, and delivers nothing after', async () => {
      const b = await connect();
      const queue = q();
      let started = 0;
      let finished = 0;
      const sub = await consume(
        b,
        queue,
        async () => {
          started++;
          await sleep(200);
          finished++;
        },
        { concurrency: 2 },
      );
      await b.publish(queue, 'a');
      await b.publish(queue, 'b');
      await waitFor(() => started === 2, 5000, 'two handlers');
      await sub.stop();
      expect(finished).toBe(2);
      await b.publish(queue, 'c');
      await sleep(400);
      expect(started).toBe(2);
      // The acked ones are gone; only "c" is left for a new consumer.
      const later: string[] = [];
      await consume(b, queue, async (d) => void later.push(d.body));
      await waitFor(() => later.length === 1, 5000, 'the message published after stop');
      await sleep(vt * 1.5);
      expect(later).toEqual(['c']);
    });

    it('delivers messages published before anyone consumed', async () => {
      const b = await connect();
      const queue = q();
      for (let i = 0; i < 5; i++) await b.publish(queue, `early-${i}`);
      const got: string[] = [];
      await consume((await connect()) ?? b, queue, async (d) => void got.push(d.body));
      await waitFor(() => got.length === 5, 5000, 'the early messages');
      expect(got.sort()).toEqual(['early-0', 'early-1', 'early-2', 'early-3', 'early-4']);
    });

    it('keeps queues apart', async () => {
      const b = await connect();
      const q1 = q();
      const q2 = q();
      const got1: string[] = [];
      const got2: string[] = [];
      await consume(b, q1, async (d) => void got1.push(d.body));
      await consume(b, q2, async (d) => void got2.push(d.body));
      await b.publish(q1, 'for-1');
      await b.publish(q2, 'for-2');
      await waitFor(() => got1.length === 1 && got2.length === 1, 5000, 'both queues');
      await sleep(100);
      expect(got1).toEqual(['for-1']);
      expect(got2).toEqual(['for-2']);
    });

    it('shares a queue between consumers on two clients without duplicates', async () => {
      const a = await connect();
      const b = await connect();
      const queue = q();
      const seen = new Map<string, number>();
      const perClient = { a: 0, b: 0 };
      const handler = (who: 'a' | 'b') => async (d: Delivery) => {
        perClient[who]++;
        seen.set(d.body, (seen.get(d.body) ?? 0) + 1);
        await sleep(2);
      };
      await consume(a, queue, handler('a'));
      await consume(b, queue, handler('b'));
      await Promise.all(Array.from({ length: 100 }, (_, i) => a.publish(queue, `m${i}`)));
      await waitFor(() => seen.size === 100, 20_000, '100 messages');
      await sleep(vt * 1.5);
      expect([...seen.values()].every((n) => n === 1)).toBe(true);
      expect(perClient.a + perClient.b).toBe(100);
    });

    it('wakes an idle consumer promptly when a message arrives', async () => {
      const b = await connect();
      const publisher = await connect();
      const queue = q();
      let at = 0;
      await consume(b, queue, async () => void (at = Date.now()));
      await sleep(300); // idle
      const t0 = Date.now();
      await publisher.publish(queue, 'ping');
      await waitFor(() => at > 0, 5000, 'the message');
      expect(at - t0).toBeLessThan(1000);
    });
  });
}
