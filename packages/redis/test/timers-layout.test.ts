import { afterAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { makeEvent } from '@durably/core';
import { RedisStorage } from '../src/index.js';
import { INLINE_TIMERS } from '../src/timer-scripts.js';
import { REDIS_URL, dropPrefix, serverAvailable, uniquePrefix } from './harness.js';

const available = await serverAvailable();
// Each test has a prefix of its own: claims see every timer of a prefix.
const prefixes: string[] = [];
function fresh(): { prefix: string; P: string } {
  const prefix = uniquePrefix();
  prefixes.push(prefix);
  return { prefix, P: `{${prefix}}` };
}

/** A run as this release creates it (its timers live in its hash, see timer-scripts.ts). */
async function created(storage: RedisStorage, runId: string): Promise<void> {
  await storage.createRun({ runId, workflow: 'wf', queue: 'default', args: '[[]]', createdAt: 1, firstEvent: makeEvent(runId, 1, 'run_created', { workflow: 'wf', args: '[[]]', queue: 'default' }, undefined, 1) });
}

describe.skipIf(!available)('redis timers: one member per run, older releases\' timers', () => {
  afterAll(() => Promise.all(prefixes.map(dropPrefix)));

  it('keeps the timers a release before this one wrote in their form: claimed, listed, cleared and added to as before', async () => {
    const { prefix, P } = fresh();
    const raw = new Redis(REDIS_URL);
    const storage = new RedisStorage({ url: REDIS_URL, prefix });
    try {
      // Two runs as an older release left them: no `timers` field, a member per timer, a claim lease in P:timer-lease.
      for (const runId of ['old-1', 'old-2']) {
        await raw.hset(`${P}:run:${runId}`, 'workflow', 'wf', 'status', 'suspended', 'queue', 'default', 'args', '[[]]', 'createdAt', '1', 'updatedAt', '1', 'lastSeq', '1');
        await raw.rpush(`${P}:ev:${runId}`, JSON.stringify(makeEvent(runId, 1, 'run_created', { workflow: 'wf', args: '[[]]', queue: 'default' }, undefined, 1)));
        await raw.zadd(`${P}:timers`, 100, `${runId}|sleep:1`, 300, `${runId}|sleep:2`);
        await raw.sadd(`${P}:rt:${runId}`, 'sleep:1', 'sleep:2');
      }
      await raw.hset(`${P}:timer-lease`, 'old-2|sleep:1', '10000');
      expect(await storage.listTimers('old-1')).toEqual([
        { runId: 'old-1', timerId: 'sleep:1', fireAt: 100 },
        { runId: 'old-1', timerId: 'sleep:2', fireAt: 300 },
      ]);
      // Claimed as before, the leased one left out.
      expect(await storage.claimDueTimers(200, { limit: 10, leaseMs: 1000 })).toEqual([{ runId: 'old-1', timerId: 'sleep:1', fireAt: 100 }]);
      // old-1 is appended to: one timer cleared, one set, both in the old form (the run still has some there).
      await storage.append({ runId: 'old-1', expectedSeq: 1, events: [], clearTimers: ['sleep:2'], setTimers: [{ runId: 'old-1', timerId: 'sleep:3', fireAt: 250 }] });
      expect((await raw.smembers(`${P}:rt:old-1`)).sort()).toEqual(['sleep:1', 'sleep:3']);
      expect(await raw.zscore(`${P}:timers`, 'old-1|sleep:2')).toBeNull();
      expect(await raw.hget(`${P}:run:old-1`, 'to')).toBe('2');
      expect(await storage.listTimers('old-1')).toEqual([
        { runId: 'old-1', timerId: 'sleep:1', fireAt: 100 },
        { runId: 'old-1', timerId: 'sleep:3', fireAt: 250 },
      ]);
      // sleep:1's claim (until 1200) came along; sleep:3 (250) and old-2's sleep:2 (300) are due at 300; old-2's sleep:1 is leased.
      expect(await storage.claimDueTimers(300, { limit: 10, leaseMs: 1000 })).toEqual([
        { runId: 'old-1', timerId: 'sleep:3', fireAt: 250 },
        { runId: 'old-2', timerId: 'sleep:2', fireAt: 300 },
      ]);
      expect(await storage.claimDueTimers(1250, { limit: 10, leaseMs: 1000 })).toEqual([{ runId: 'old-1', timerId: 'sleep:1', fireAt: 100 }]);
      // old-1's last old-form timers cleared: its next timer is kept in its hash.
      await storage.append({ runId: 'old-1', expectedSeq: 1, events: [], clearTimers: ['sleep:1', 'sleep:3'] });
      expect(await raw.exists(`${P}:rt:old-1`)).toBe(0);
      expect(await raw.hexists(`${P}:timer-lease`, 'old-1|sleep:1')).toBe(0);
      await storage.append({ runId: 'old-1', expectedSeq: 1, events: [], setTimers: [{ runId: 'old-1', timerId: 'sleep:4', fireAt: 400 }] });
      expect(await raw.zscore(`${P}:timers`, 'old-1')).toBe('400');
      expect(await storage.listTimers('old-1')).toEqual([{ runId: 'old-1', timerId: 'sleep:4', fireAt: 400 }]);
      // A timer an older worker set on a run of this release (during an upgrade) is cleared by its id all the same.
      await raw.zadd(`${P}:timers`, 500, 'old-1|sleep:5');
      await raw.sadd(`${P}:rt:old-1`, 'sleep:5');
      await storage.append({ runId: 'old-1', expectedSeq: 1, events: [], clearTimers: ['sleep:5'] });
      expect(await raw.zscore(`${P}:timers`, 'old-1|sleep:5')).toBeNull();
      expect(await raw.exists(`${P}:rt:old-1`)).toBe(0);
    } finally {
      await storage.close();
      raw.disconnect();
    }
  });

  it('a run\'s member waits at its earliest timer; replaced by a later one it stays behind, and a claim that finds nothing due there moves it up', async () => {
    const { prefix, P } = fresh();
    const raw = new Redis(REDIS_URL);
    const storage = new RedisStorage({ url: REDIS_URL, prefix });
    try {
      await created(storage, 'r1');
      expect(await raw.hget(`${P}:run:r1`, 'timers')).toBe('{}');
      await storage.append({ runId: 'r1', expectedSeq: 1, events: [], setTimers: [{ runId: 'r1', timerId: 'lease:1', fireAt: 5000 }] });
      expect(await raw.zscore(`${P}:timers`, 'r1')).toBe('5000');
      // The next step's lease replaces this one: the member stays at 5000 (no sorted-set write).
      await storage.append({ runId: 'r1', expectedSeq: 1, events: [], clearTimers: ['lease:1'], setTimers: [{ runId: 'r1', timerId: 'lease:2', fireAt: 9000 }] });
      expect(await raw.zscore(`${P}:timers`, 'r1')).toBe('5000');
      expect(await storage.listTimers('r1')).toEqual([{ runId: 'r1', timerId: 'lease:2', fireAt: 9000 }]);
      // An earlier timer moves it down.
      await storage.append({ runId: 'r1', expectedSeq: 1, events: [], setTimers: [{ runId: 'r1', timerId: 'sleep:3', fireAt: 4000.5 }] });
      expect(await raw.zscore(`${P}:timers`, 'r1')).toBe('4000.5');
      await storage.append({ runId: 'r1', expectedSeq: 1, events: [], clearTimers: ['sleep:3'] });
      // Nothing due at 6000; the claim that looked moves the member to the real earliest.
      expect(await storage.claimDueTimers(6000, { limit: 10, leaseMs: 1000 })).toEqual([]);
      expect(await raw.zscore(`${P}:timers`, 'r1')).toBe('9000');
      expect(await storage.claimDueTimers(9000, { limit: 10, leaseMs: 1000 })).toEqual([{ runId: 'r1', timerId: 'lease:2', fireAt: 9000 }]);
      // The run's last timer cleared: its member goes.
      await storage.append({ runId: 'r1', expectedSeq: 1, events: [], clearTimers: ['lease:2'] });
      expect(await raw.zscore(`${P}:timers`, 'r1')).toBeNull();
    } finally {
      await storage.close();
      raw.disconnect();
    }
  });

  it('claims the earliest due timers across runs, however many each run has, and never one twice while leased', async () => {
    const { prefix } = fresh();
    const storage = new RedisStorage({ url: REDIS_URL, prefix });
    try {
      await created(storage, 'm1');
      await created(storage, 'm2');
      await storage.append({ runId: 'm1', expectedSeq: 1, events: [], setTimers: [100, 300, 500].map((fireAt, i) => ({ runId: 'm1', timerId: `t${i}`, fireAt })) });
      await storage.append({ runId: 'm2', expectedSeq: 1, events: [], setTimers: [200, 400].map((fireAt, i) => ({ runId: 'm2', timerId: `t${i}`, fireAt })) });
      expect((await storage.claimDueTimers(1000, { limit: 3, leaseMs: 10_000 })).map((t) => `${t.runId}/${t.fireAt}`)).toEqual(['m1/100', 'm2/200', 'm1/300']);
      expect((await storage.claimDueTimers(1000, { limit: 3, leaseMs: 10_000 })).map((t) => `${t.runId}/${t.fireAt}`)).toEqual(['m2/400', 'm1/500']);
      expect(await storage.claimDueTimers(1000, { limit: 3, leaseMs: 10_000 })).toEqual([]);
      // Moving a timer ends its claim.
      await storage.append({ runId: 'm1', expectedSeq: 1, events: [], setTimers: [{ runId: 'm1', timerId: 't0', fireAt: 100 }] });
      expect(await storage.claimDueTimers(1000, { limit: 3, leaseMs: 10_000 })).toEqual([{ runId: 'm1', timerId: 't0', fireAt: 100 }]);
    } finally {
      await storage.close();
    }
  });

  it(`keeps up to ${INLINE_TIMERS} of a run's timers in its hash and the rest one by one; both are listed, claimed in order and cleared`, async () => {
    const { prefix, P } = fresh();
    const raw = new Redis(REDIS_URL);
    const storage = new RedisStorage({ url: REDIS_URL, prefix });
    try {
      await created(storage, 'wide');
      const n = INLINE_TIMERS + 4;
      const ids = Array.from({ length: n }, (_, i) => `sleep:${i + 1}`);
      // Set in two appends, the later half first: which ones spill depends on the order of arrival, not on fireAt.
      await storage.append({ runId: 'wide', expectedSeq: 1, events: [], setTimers: ids.slice(n / 2).map((timerId, i) => ({ runId: 'wide', timerId, fireAt: 1000 + n / 2 + i })) });
      await storage.append({ runId: 'wide', expectedSeq: 1, events: [], setTimers: ids.slice(0, n / 2).map((timerId, i) => ({ runId: 'wide', timerId, fireAt: 1000 + i })) });
      expect(await raw.hget(`${P}:run:wide`, 'to')).toBe('4');
      expect(await raw.scard(`${P}:rt:wide`)).toBe(4);
      expect((await storage.listTimers('wide')).map((t) => t.timerId)).toEqual(ids);
      const first = await storage.claimDueTimers(5000, { limit: 5, leaseMs: 10_000 });
      expect(first.map((t) => t.timerId)).toEqual(ids.slice(0, 5));
      const rest = await storage.claimDueTimers(5000, { limit: 100, leaseMs: 10_000 });
      expect(rest.map((t) => t.timerId)).toEqual(ids.slice(5));
      expect(await storage.claimDueTimers(5000, { limit: 100, leaseMs: 10_000 })).toEqual([]);
      // Moving a spilled timer ends its claim too.
      const spilledId = (await raw.smembers(`${P}:rt:wide`))[0];
      await storage.append({ runId: 'wide', expectedSeq: 1, events: [], setTimers: [{ runId: 'wide', timerId: spilledId, fireAt: 900 }] });
      expect(await storage.claimDueTimers(5000, { limit: 100, leaseMs: 10_000 })).toEqual([{ runId: 'wide', timerId: spilledId, fireAt: 900 }]);
      await storage.append({ runId: 'wide', expectedSeq: 1, events: [], clearTimers: ids });
      expect(await storage.listTimers('wide')).toEqual([]);
      expect(await raw.hget(`${P}:run:wide`, 'to')).toBe('0');
      expect(await raw.zcard(`${P}:timers`)).toBe(0);
      expect(await raw.hlen(`${P}:timer-lease`)).toBe(0);
    } finally {
      await storage.close();
      raw.disconnect();
    }
  });
});
