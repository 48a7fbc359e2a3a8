import { afterAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { waitFor } from '@durably/testing';
import { RedisBroker } from '../src/index.js';
import { REDIS_URL, dropPrefix, serverAvailable, uniquePrefix } from './harness.js';

const available = await serverAvailable();
const prefix = uniquePrefix();

describe.skipIf(!available)('redis broker: stream entries publish did not write', () => {
  afterAll(() => dropPrefix(prefix));

  it('dead-letters an entry with no body on its first delivery, and one with none of its fields under its stream id with a count of 1', async () => {
    const broker = new RedisBroker({ url: REDIS_URL, prefix });
    const raw = new Redis(REDIS_URL);
    const delivered: string[] = [];
    const sub = await broker.consume('malformed', async (d) => void delivered.push(d.body), { concurrency: 4, visibilityTimeoutMs: 60_000, maxDeliveries: 10 });
    try {
      const stream = broker.keys('malformed').stream;
      await raw.xadd(stream, '*', 'id', 'no-body', 'dc', '0', 'dk', '');
      const bare = await raw.xadd(stream, '*', 'unrelated', 'value');
      await broker.publish('malformed', 'a good one');
      await waitFor(async () => (await broker.deadLetters('malformed')).length === 2 && delivered.length === 1, 10_000);
      expect(delivered).toEqual(['a good one']);
      const dead = await broker.deadLetters('malformed');
      expect(dead.map((d) => ({ id: d.id, body: d.body, deliveryCount: d.deliveryCount }))).toEqual([
        { id: 'no-body', body: '', deliveryCount: 1 },
        { id: bare, body: '', deliveryCount: 1 },
      ]);
      expect(dead[0].reason).toMatch(/no "body" field/);
      expect(dead[1].reason).toMatch(/no "body" field \(fields: unrelated\)/);
      for (const d of dead) expect(Number.isFinite(d.at)).toBe(true);
      expect(await raw.xlen(stream)).toBe(0);
    } finally {
      await sub.stop();
      await broker.close();
      raw.disconnect();
    }
  });
});
