import { afterAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { makeEvent } from '@durably/core';
import { RedisStorage } from '../src/index.js';
import { REDIS_URL, dropPrefix, serverAvailable, uniquePrefix } from './harness.js';

const available = await serverAvailable();
const prefix = uniquePrefix();

describe.skipIf(!available)('redis key upgrade', () => {
  afterAll(() => dropPrefix(prefix));

  it('moves idempotency keys of older releases (one hash for all workflows) to one hash per workflow; old runs keep theirs', async () => {
    const P = `{${prefix}}`;
    const raw = new Redis(REDIS_URL);
    // Runs written by a release whose keys were global.
    for (const [runId, workflow, key] of [['old-a', 'wf.a', 'k1'], ['old-c', 'wf.c', 'k2']]) {
      await raw.hset(`${P}:run:${runId}`, 'workflow', workflow, 'status', 'pending', 'queue', 'default', 'args', '[[]]', 'createdAt', '1', 'updatedAt', '1', 'lastSeq', '1', 'idempotencyKey', key);
      await raw.hset(`${P}:idem`, key, runId);
    }
    await raw.hset(`${P}:idem`, 'k-gone', 'deleted-run');
    const storage = new RedisStorage({ url: REDIS_URL, prefix });
    const create = (runId: string, workflow: string, key: string) =>
      storage.createRun({ runId, workflow, queue: 'default', args: '[[]]', idempotencyKey: key, createdAt: 2, firstEvent: makeEvent(runId, 1, 'run_created', { workflow, args: '[[]]', queue: 'default' }, undefined, 2) });
    try {
      // Before the upgrade ran (a process of the new release beside old ones), old keys still count, per workflow.
      expect(await create('new-c', 'wf.c', 'k2')).toMatchObject({ created: false, run: { runId: 'old-c' } });
      await storage.migrate();
      expect(await raw.exists(`${P}:idem`)).toBe(0);
      expect(await raw.hget(`${P}:idem:wf.a`, 'k1')).toBe('old-a');
      expect(await create('new-a', 'wf.a', 'k1')).toMatchObject({ created: false, run: { runId: 'old-a' } });
      expect(await create('new-b', 'wf.b', 'k1')).toMatchObject({ created: true, run: { runId: 'new-b' } });
      expect(await create('new-gone', 'wf.a', 'k-gone')).toMatchObject({ created: true });
      await storage.migrate(); // nothing left to do
    } finally {
      await storage.close();
      raw.disconnect();
    }
  });
});
