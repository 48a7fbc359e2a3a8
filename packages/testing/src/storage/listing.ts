import { randomUUID } from 'node:crypto';
import { expect, it } from 'vitest';
import type { RunRecord } from '@durably/core';
import type { StorageSuiteContext } from './context.js';

/**
 * Storage suite, listing runs: filters, tags, and cursor paging over thousands of runs.
 */
export function listingTests(suite: StorageSuiteContext): void {
  const { connect, newRun } = suite;

  it('filters runs by workflow, status, parent, creation and update time', async () => {
    const s = await connect();
    const wf = `conf.filter.${randomUUID()}`;
    const base = Date.now() + 1_000_000;
    const runs: RunRecord[] = [];
    for (let i = 0; i < 6; i++) {
      runs.push((await s.createRun(newRun({ workflow: wf, createdAt: base + i, parentRunId: i < 2 ? 'p-' + wf : undefined }))).run);
    }
    await s.append({ runId: runs[0].runId, expectedSeq: 1, events: [], run: { status: 'completed' } });
    await s.append({ runId: runs[1].runId, expectedSeq: 1, events: [], run: { status: 'failed' } });
    await s.touchRun(runs[2].runId, 5);
    const ids = (page: { runs: RunRecord[] }) => page.runs.map((r) => r.runId);
    expect(ids(await s.listRuns({ workflow: wf }))).toEqual(runs.map((r) => r.runId).reverse());
    expect(ids(await s.listRuns({ workflow: wf, status: 'completed' }))).toEqual([runs[0].runId]);
    expect(ids(await s.listRuns({ workflow: wf, status: ['completed', 'failed'] }))).toEqual([runs[1].runId, runs[0].runId]);
    expect(ids(await s.listRuns({ parentRunId: 'p-' + wf }))).toEqual([runs[1].runId, runs[0].runId]);
    expect(ids(await s.listRuns({ workflow: wf, createdAfter: base + 3 }))).toEqual([runs[5].runId, runs[4].runId, runs[3].runId]);
    expect(ids(await s.listRuns({ workflow: wf, createdBefore: base + 2 }))).toEqual([runs[1].runId, runs[0].runId]);
    expect(ids(await s.listRuns({ workflow: wf, updatedBefore: 10 }))).toEqual([runs[2].runId]);
    expect(ids(await s.listRuns({ workflow: wf, status: 'running' }))).toEqual([]);
  });

  it('stores tags and lists runs carrying all the given tags', async () => {
    const s = await connect();
    const wf = `conf.tags.${randomUUID()}`;
    const t = randomUUID().slice(0, 8);
    const a = (await s.createRun(newRun({ workflow: wf, tags: [`team:${t}`, `tier:gold-${t}`] }))).run;
    const b = (await s.createRun(newRun({ workflow: wf, tags: [`team:${t}`] }))).run;
    await s.createRun(newRun({ workflow: wf }));
    expect(a.tags).toEqual([`team:${t}`, `tier:gold-${t}`]);
    expect((await s.getRun(b.runId))!.tags).toEqual([`team:${t}`]);
    const ids = async (tags: string[], workflow?: string) => (await s.listRuns({ tags, workflow })).runs.map((r) => r.runId);
    expect(await ids([`team:${t}`])).toEqual([b.runId, a.runId]);
    expect(await ids([`team:${t}`, `tier:gold-${t}`])).toEqual([a.runId]);
    expect(await ids([`team:${t}`], wf)).toEqual([b.runId, a.runId]);
    expect(await ids([`nobody-${t}`])).toEqual([]);
  });

  it('pages over 5,000 runs: each exactly once, newest first, while new runs are created', async () => {
    const s = await connect();
    const wf = `conf.paging.${randomUUID()}`;
    const base = Date.now();
    const all: string[] = [];
    for (let batch = 0; batch < 50; batch++) {
      const created = await Promise.all(
        // Runs share createdAt in pairs to check the runId tie-break of the order.
        Array.from({ length: 100 }, (_, i) => s.createRun(newRun({ workflow: wf, createdAt: base + Math.floor((batch * 100 + i) / 2) }))),
      );
      all.push(...created.map((c) => c.run.runId));
    }
    for (const limit of [500, 1000]) {
      const seen: RunRecord[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await s.listRuns({ workflow: wf, limit, cursor });
        expect(page.runs.length).toBeLessThanOrEqual(limit);
        seen.push(...page.runs);
        cursor = page.nextCursor;
        // New runs created mid-walk are newer than the cursor: they must not disturb it.
        if (pages++ === 1) await s.createRun(newRun({ workflow: wf, createdAt: base + 10_000_000 + pages + limit }));
      } while (cursor);
      const ids = seen.map((r) => r.runId);
      expect(new Set(ids).size).toBe(ids.length);
      for (const id of all) expect(ids.includes(id)).toBe(true);
      for (let i = 1; i < seen.length; i++) {
        const prev = seen[i - 1];
        const cur = seen[i];
        expect(prev.createdAt > cur.createdAt || (prev.createdAt === cur.createdAt && prev.runId > cur.runId)).toBe(true);
      }
    }
    const small = await s.listRuns({ workflow: wf });
    expect(small.runs).toHaveLength(100);
    expect(small.nextCursor).toBeDefined();
  }, 120_000);
}
