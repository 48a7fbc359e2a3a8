import { afterAll, describe, expect, it } from 'vitest';
import { makeEvent } from '@durably/core';
import { durablyAdapter, KeyLayout, RedisStorage, optionsFromUrl } from '../src/index.js';
import { CLAIM_GRACE_MS } from '../src/cluster-ops.js';
import { uniquePrefix } from './harness.js';
import { startCluster } from './cluster-harness.js';

const cluster = await startCluster();
afterAll(() => cluster?.stop());

const newRun = (runId: string, extra: { idempotencyKey?: string; workflow?: string } = {}) => {
  const workflow = extra.workflow ?? 'wf.layout';
  return {
    runId,
    workflow,
    queue: 'default',
    args: '[[]]',
    createdAt: 1000,
    ...(extra.idempotencyKey ? { idempotencyKey: extra.idempotencyKey } : {}),
    firstEvent: makeEvent(runId, 1, 'run_created', { workflow, args: '[[]]', queue: 'default' }, undefined, 1000),
  };
};

describe.skipIf(!cluster)('redis storage key layout on a Redis Cluster', () => {
  const prefixes: string[] = [];
  const open = (options: { buckets?: number } = {}) => {
    const prefix = uniquePrefix();
    prefixes.push(prefix);
    return { prefix, storage: new RedisStorage({ url: cluster!.url, prefix, ...options }) };
  };
  afterAll(async () => {
    for (const p of prefixes) await cluster!.dropPrefix(p);
  });

  it('selects the cluster by URL and keeps the single layout for redis://', async () => {
    expect(optionsFromUrl('redis+cluster://127.0.0.1:7000,127.0.0.1:7001?prefix=app&buckets=8')).toMatchObject({ cluster: true, prefix: 'app', buckets: 8 });
    expect(() => optionsFromUrl('redis+cluster://127.0.0.1:7000/3')).toThrow(/database 0 only/);
    expect(() => optionsFromUrl('redis+cluster://127.0.0.1:7000,,x:1')).toThrow(/none empty/);
    expect(new KeyLayout('app', false).runTag('r1')).toBe('{app}');
    expect(new KeyLayout('app', true, 8).runTag('r1')).toMatch(/^\{app~[0-7]\}$/);
    const s = (await durablyAdapter.storage!(`${cluster!.url}?prefix=${uniquePrefix()}`)) as RedisStorage;
    expect(s.layout.clustered).toBe(true);
    await s.close();
  });

  it('spreads runs over every master, each append staying in one slot', async () => {
    const { prefix, storage } = open();
    try {
      await storage.migrate();
      for (let i = 0; i < 48; i++) await storage.createRun(newRun(`spread-${i}`));
      const c = await cluster!.client();
      try {
        const perMaster = await Promise.all(c.nodes('master').map(async (node) => (await node.keys(`{${prefix}~*}:run:*`)).length));
        expect(perMaster).toHaveLength(3);
        for (const n of perMaster) expect(n).toBeGreaterThan(0);
        expect(perMaster.reduce((a, b) => a + b, 0)).toBe(48);
      } finally {
        c.disconnect();
      }
      const page = await storage.listRuns({ limit: 20 });
      expect(page.runs).toHaveLength(20);
      const rest = await storage.listRuns({ limit: 100, cursor: page.nextCursor });
      expect(new Set([...page.runs, ...rest.runs].map((r) => r.runId)).size).toBe(48);
    } finally {
      await storage.close();
    }
  });

  it('refuses a client whose bucket count differs from the one recorded for the prefix', async () => {
    const { prefix, storage } = open({ buckets: 8 });
    const other = new RedisStorage({ url: cluster!.url, prefix, buckets: 16 });
    try {
      await storage.migrate();
      await expect(other.migrate()).rejects.toThrow(/laid out as "cluster buckets=8"/);
    } finally {
      await storage.close();
      await other.close();
    }
  });

  it('takes over an idempotency key whose creator died between the claim and the create, and never creates that run later', async () => {
    const { prefix, storage } = open();
    const c = await cluster!.client();
    try {
      // The entry a dead creator left: the key claimed for run "ghost" long ago, the run never created.
      const layout = storage.layout;
      await c.hset(`${layout.idemTag('wf.layout', 'k1')}:idem:wf.layout`, 'k1', `ghost|${Date.now() - CLAIM_GRACE_MS - 1000}`);
      const taken = await storage.createRun(newRun('heir', { idempotencyKey: 'k1' }));
      expect(taken).toMatchObject({ created: true, run: { runId: 'heir' } });
      // The stalled creator wakes up: its run id was given up, and it gets the heir.
      const late = await storage.createRun(newRun('ghost', { idempotencyKey: 'k1' }));
      expect(late).toMatchObject({ created: false, run: { runId: 'heir' } });
      expect(await storage.getRun('ghost')).toBeUndefined();
      expect((await storage.getRunByIdempotencyKey('wf.layout', 'k1'))?.runId).toBe('heir');
      void prefix;
    } finally {
      c.disconnect();
      await storage.close();
    }
  });

  it('gives one run to concurrent creates of one idempotency key whose entry lands in another slot', async () => {
    const { storage } = open();
    try {
      const results = await Promise.all(Array.from({ length: 8 }, (_, i) => storage.createRun(newRun(`race-${i}`, { idempotencyKey: 'same' }))));
      expect(results.filter((r) => r.created)).toHaveLength(1);
      expect(new Set(results.map((r) => r.run.runId)).size).toBe(1);
    } finally {
      await storage.close();
    }
  });

  it('gives back the slot of a run that finished without releasing it (the process died between the two writes)', async () => {
    const { storage } = open();
    const c = await cluster!.client();
    try {
      await storage.createRun(newRun('holder'));
      await storage.createRun(newRun('waiter'));
      expect(await storage.acquireSlot('wf.layout:g', 'holder', 1)).toBe(true);
      // The finishing append went in; the release that follows it did not.
      const done = makeEvent('holder', 2, 'run_completed', { result: '1' }, undefined, 2000);
      await storage.append({ runId: 'holder', expectedSeq: 1, events: [done], run: { status: 'completed', result: '1', finishedAt: 2000 } });
      expect(await storage.acquireSlot('wf.layout:g', 'waiter', 1)).toBe(true);
      expect(await c.smembers(`${storage.layout.home}:slot:wf.layout:g`)).toEqual(['waiter']);
    } finally {
      c.disconnect();
      await storage.close();
    }
  });

  it('reads a hook locator without a hook record (an append that never happened) as no hook, and retention removes locators', async () => {
    const { storage } = open();
    const c = await cluster!.client();
    try {
      await c.set(storage.layout.hookLocator('k-orphan'), 'no-such-run');
      expect(await storage.getHook('k-orphan')).toBeUndefined();
      await storage.createRun(newRun('hooked'));
      const hook = { token: 'k-live', runId: 'hooked', correlationId: 'c1', name: 'approval', createdAt: 1000 };
      const done = makeEvent('hooked', 2, 'run_completed', { result: '1' }, undefined, 2000);
      await storage.append({ runId: 'hooked', expectedSeq: 1, events: [done], setHooks: [hook], run: { status: 'completed', result: '1', finishedAt: 2000 } });
      expect(await storage.getHook('k-live')).toMatchObject({ runId: 'hooked' });
      expect(await storage.deleteFinishedRuns(3000, 10)).toBe(1);
      expect(await c.exists(storage.layout.hookLocator('k-live'))).toBe(0);
      expect(await storage.getHook('k-live')).toBeUndefined();
    } finally {
      c.disconnect();
      await storage.close();
    }
  });
});
