import { describe, expect, it } from 'vitest';
import { brokerFromUrl, ConfigError, InvalidArgumentError, InvalidDurationError } from '@durably/core';
import { DELAY_LEVELS, MAX_DELAY_MS, RabbitMQBroker } from '../src/index.js';
import { delayRoute, duePattern, levelPattern } from '../src/delay.js';
import { resolveOptions } from '../src/options.js';

describe('delay ladder routes', () => {
  it('writes a delay in binary, highest level first, entering at its highest "1" bit', () => {
    const route = delayRoute(1000, 'durably.default');
    // 1000 = 0b1111101000: waits at levels 9, 8, 7, 6, 5 and 3.
    expect(route.waitLevels).toEqual([9, 8, 7, 6, 5, 3]);
    expect(route.entryLevel).toBe(9);
    const words = route.routingKey.split('.');
    expect(words.slice(0, DELAY_LEVELS).join('')).toBe((1000).toString(2).padStart(DELAY_LEVELS, '0'));
    expect(words.slice(DELAY_LEVELS).join('.')).toBe('durably.default');
    expect(route.waitLevels.reduce((sum, level) => sum + 2 ** level, 0)).toBe(1000);
  });

  it('rounds up to whole ms (never early) and caps at the longest delay', () => {
    expect(delayRoute(0.2, 'q').waitLevels).toEqual([0]);
    expect(delayRoute(2.5, 'q').waitLevels).toEqual([1, 0]);
    expect(delayRoute(MAX_DELAY_MS * 4, 'q').waitLevels).toHaveLength(DELAY_LEVELS);
    expect(MAX_DELAY_MS).toBe(2 ** 28 - 1);
  });

  it('binds each level on its own word and the work queue on the whole name after the bits', () => {
    expect(levelPattern(DELAY_LEVELS - 1, 1)).toBe('1.#');
    expect(levelPattern(0, 0)).toBe(`${'*.'.repeat(DELAY_LEVELS - 1)}0.#`);
    expect(duePattern('a.b')).toBe(`${'*.'.repeat(DELAY_LEVELS)}a.b`);
  });
});

describe('options', () => {
  it("reads Durably's query parameters from the URL and passes the rest to amqplib", () => {
    const o = resolveOptions({ url: 'amqp://u:secret@mq:5673/prod?prefix=billing&queueType=classic&deliveryLimit=4&consumerTimeout=1h&publishTimeout=5s&heartbeat=20' });
    expect(o).toMatchObject({ prefix: 'billing', queueType: 'classic', deliveryLimit: 4, consumerTimeoutMs: 3_600_000, publishTimeoutMs: 5000 });
    expect(o.amqpUrl).toBe('amqp://u:secret@mq:5673/prod?heartbeat=20');
    expect(o.address).not.toContain('secret');
  });

  it('has defaults: prefix "durably", quorum queues, delivery limit 10, consumer timeout 30 min', () => {
    expect(resolveOptions({ url: 'amqp://127.0.0.1' })).toMatchObject({ prefix: 'durably', queueType: 'quorum', deliveryLimit: 10, consumerTimeoutMs: 1_800_000, publishTimeoutMs: 30_000 });
  });

  it('lets explicit options win over the URL', () => {
    expect(resolveOptions({ url: 'amqp://h?prefix=a&queueType=classic', prefix: 'b', queueType: 'quorum' })).toMatchObject({ prefix: 'b', queueType: 'quorum' });
  });

  it('rejects bad values with errors that say what to use', () => {
    expect(() => resolveOptions({})).toThrow(ConfigError);
    expect(() => resolveOptions({ url: 'redis://h' })).toThrow(/amqp:\/\/ or amqps:\/\//);
    expect(() => resolveOptions({ url: 'amqp://h?prefix=a.b' })).toThrow(InvalidArgumentError);
    expect(() => resolveOptions({ url: 'amqp://h?queueType=stream' })).toThrow(/"quorum" \(the default\) or "classic"/);
    expect(() => resolveOptions({ url: 'amqp://h?deliveryLimit=0' })).toThrow(/deliveryLimit/);
    expect(() => resolveOptions({ url: 'amqp://h?consumerTimeout=soon' })).toThrow(InvalidDurationError);
  });

  it('is what DURABLY_BROKER=amqp://… selects, through the adapter registration', async () => {
    const broker = await brokerFromUrl('amqp://guest:guest@127.0.0.1:5672?prefix=by-url');
    expect(broker).toBeInstanceOf(RabbitMQBroker);
    expect((broker as RabbitMQBroker).prefix).toBe('by-url');
    expect(broker.maxDelayMs).toBe(MAX_DELAY_MS);
    await broker.close(); // never connected: nothing to do
    const tls = await brokerFromUrl('amqps://mq.example.com');
    expect(tls).toBeInstanceOf(RabbitMQBroker);
    await tls.close();
  });
});
