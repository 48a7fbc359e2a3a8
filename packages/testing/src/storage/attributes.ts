import { randomUUID } from 'node:crypto';
import { expect, it } from 'vitest';
import { makeEvent, type AttributePatch, type RunFilter, type RunRecord, type Storage } from '@durably/core';
import type { StorageSuiteContext } from './context.js';

/**
 * Storage suite, search attributes: an append's `run.attributes` patch merges into the record and its
 * index in the same write, and listRuns({ attributes }) filters by typed equality, combined with the
 * other filters and cursor paging; retention takes the index entries with the run.
 */
export function attributeTests(suite: StorageSuiteContext): void {
  const { connect, newRun } = suite;

  /** Appends an attributes_set event and the matching patch, as the engine does. */
  async function setAttrs(s: Storage, runId: string, attributes: AttributePatch, extra: { status?: RunRecord['status']; finishedAt?: number } = {}): Promise<void> {
    const run = (await s.getRun(runId))!;
    const event = makeEvent(runId, run.lastSeq + 1, 'attributes_set', { attributes }, String(run.lastSeq + 1));
    await s.append({ runId, expectedSeq: run.lastSeq, events: [event], run: { ...extra, attributes } });
  }

  const ids = async (s: Storage, filter: RunFilter) => (await s.listRuns(filter)).runs.map((r) => r.runId);

  it('merges attributes into the run record and lists runs by one or several, by value and type', async () => {
    const s = await connect();
    const other = await connect();
    const wf = `conf.attrs.${randomUUID()}`;
    const c = `c-${randomUUID()}`;
    const a = (await s.createRun(newRun({ workflow: wf }))).run;
    const b = (await s.createRun(newRun({ workflow: wf }))).run;
    const n = (await s.createRun(newRun({ workflow: wf }))).run;
    await setAttrs(s, a.runId, { customer: c, amount: 120, vip: true });
    await setAttrs(s, b.runId, { customer: c, amount: 80 });
    // Same key, same text, other types: the string '120' and 'true' are not the number and the boolean.
    await setAttrs(s, n.runId, { customer: c, amount: '120', vip: 'true' });

    expect((await other.getRun(a.runId))!.attributes).toEqual({ customer: c, amount: 120, vip: true });
    expect((await other.readEvents(a.runId, 2))[0]).toMatchObject({ type: 'attributes_set', data: { attributes: { customer: c, amount: 120, vip: true } } });
    expect(await ids(other, { attributes: { customer: c } })).toEqual([n.runId, b.runId, a.runId]);
    expect(await ids(other, { attributes: { customer: c, amount: 120 } })).toEqual([a.runId]);
    expect(await ids(other, { attributes: { customer: c, amount: '120' } })).toEqual([n.runId]);
    expect(await ids(other, { attributes: { customer: c, vip: true } })).toEqual([a.runId]);
    expect(await ids(other, { attributes: { customer: c, vip: 'true' } })).toEqual([n.runId]);
    expect(await ids(other, { attributes: { customer: c, amount: 80, vip: true } })).toEqual([]);
    expect(await ids(other, { attributes: { customer: `nobody-${c}` } })).toEqual([]);
    // A run that never set attributes has none on its record.
    expect((await other.getRun((await s.createRun(newRun({ workflow: wf }))).run.runId))!.attributes).toBeUndefined();
  });

  it('tells the number 1 from the string "1" and 0 from false', async () => {
    const s = await connect();
    const k = `k${randomUUID().slice(0, 8)}`;
    const one = (await s.createRun(newRun())).run;
    const text = (await s.createRun(newRun())).run;
    const zero = (await s.createRun(newRun())).run;
    const no = (await s.createRun(newRun())).run;
    await setAttrs(s, one.runId, { [k]: 1 });
    await setAttrs(s, text.runId, { [k]: '1' });
    await setAttrs(s, zero.runId, { [k]: 0 });
    await setAttrs(s, no.runId, { [k]: false });
    expect(await ids(s, { attributes: { [k]: 1 } })).toEqual([one.runId]);
    expect(await ids(s, { attributes: { [k]: '1' } })).toEqual([text.runId]);
    expect(await ids(s, { attributes: { [k]: 0 } })).toEqual([zero.runId]);
    expect(await ids(s, { attributes: { [k]: false } })).toEqual([no.runId]);
    expect(await ids(s, { attributes: { [k]: 1.5 } })).toEqual([]);
  });

  it('combines an attribute filter with workflow, status and creation time', async () => {
    const s = await connect();
    const wf = `conf.attrs.combo.${randomUUID()}`;
    const c = `c-${randomUUID()}`;
    const base = Date.now() + 2_000_000;
    const done = (await s.createRun(newRun({ workflow: wf, createdAt: base }))).run;
    const open = (await s.createRun(newRun({ workflow: wf, createdAt: base + 1 }))).run;
    const elsewhere = (await s.createRun(newRun({ workflow: `${wf}.other`, createdAt: base + 2 }))).run;
    await setAttrs(s, done.runId, { customer: c }, { status: 'completed', finishedAt: Date.now() });
    await setAttrs(s, open.runId, { customer: c }, { status: 'running' });
    await setAttrs(s, elsewhere.runId, { customer: c }, { status: 'running' });
    expect(await ids(s, { attributes: { customer: c } })).toEqual([elsewhere.runId, open.runId, done.runId]);
    expect(await ids(s, { attributes: { customer: c }, workflow: wf })).toEqual([open.runId, done.runId]);
    expect(await ids(s, { attributes: { customer: c }, status: 'completed' })).toEqual([done.runId]);
    expect(await ids(s, { attributes: { customer: c }, status: ['running'], workflow: wf })).toEqual([open.runId]);
    expect(await ids(s, { attributes: { customer: c }, createdAfter: base + 1 })).toEqual([elsewhere.runId, open.runId]);
    expect(await ids(s, { attributes: { customer: c }, createdBefore: base + 1 })).toEqual([done.runId]);
  });

  it('reflects updates and removals: a changed or removed value no longer matches', async () => {
    const s = await connect();
    const other = await connect();
    const c = `c-${randomUUID()}`;
    const run = (await s.createRun(newRun())).run;
    await setAttrs(s, run.runId, { customer: c, stage: 'new', amount: 5 });
    await setAttrs(s, run.runId, { stage: 'paid', amount: null });
    expect((await other.getRun(run.runId))!.attributes).toEqual({ customer: c, stage: 'paid' });
    expect(await ids(other, { attributes: { customer: c, stage: 'new' } })).toEqual([]);
    expect(await ids(other, { attributes: { customer: c, stage: 'paid' } })).toEqual([run.runId]);
    expect(await ids(other, { attributes: { customer: c, amount: 5 } })).toEqual([]);
    // Removing every key leaves the record without attributes; removing a key it lacks changes nothing.
    await setAttrs(s, run.runId, { customer: null, stage: null, missing: null });
    expect((await other.getRun(run.runId))!.attributes).toBeUndefined();
    expect(await ids(other, { attributes: { customer: c } })).toEqual([]);
    // An append without a patch leaves them as they are.
    await setAttrs(s, run.runId, { customer: c });
    const r = (await s.getRun(run.runId))!;
    await s.append({ runId: run.runId, expectedSeq: r.lastSeq, events: [suite.ev(run.runId, r.lastSeq + 1)], run: { status: 'running' } });
    expect((await other.getRun(run.runId))!.attributes).toEqual({ customer: c });
    expect(await ids(other, { attributes: { customer: c } })).toEqual([run.runId]);
  });

  it('pages over the runs of an attribute, each exactly once, newest first, past runs without it', async () => {
    const s = await connect();
    const c = `c-${randomUUID()}`;
    const base = Date.now() + 3_000_000;
    const matching: string[] = [];
    for (let i = 0; i < 23; i++) {
      // Pairs share createdAt (the runId breaks the tie) and runs without the attribute sit between them.
      const run = (await s.createRun(newRun({ createdAt: base + Math.floor(i / 2) }))).run;
      await setAttrs(s, run.runId, { customer: c, even: i % 2 === 0 });
      matching.push(run.runId);
      const plain = (await s.createRun(newRun({ createdAt: base + Math.floor(i / 2) }))).run;
      await setAttrs(s, plain.runId, { customer: `${c}-x` });
    }
    const expected = (await Promise.all(matching.map(async (id) => (await s.getRun(id))!)))
      .sort((x, y) => y.createdAt - x.createdAt || (y.runId > x.runId ? 1 : -1))
      .map((r) => r.runId);
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await s.listRuns({ attributes: { customer: c }, limit: 5, cursor });
      expect(page.runs.length).toBeLessThanOrEqual(5);
      seen.push(...page.runs.map((r) => r.runId));
      cursor = page.nextCursor;
      pages++;
    } while (cursor);
    expect(seen).toEqual(expected);
    expect(pages).toBeGreaterThanOrEqual(5);
    const evens: string[] = [];
    cursor = undefined;
    do {
      const page = await s.listRuns({ attributes: { customer: c, even: true }, limit: 4, cursor });
      evens.push(...page.runs.map((r) => r.runId));
      cursor = page.nextCursor;
    } while (cursor);
    expect(evens).toEqual(expected.filter((id) => matching.indexOf(id) % 2 === 0));
  });

  it('retention deletes a run with its attribute index entries', async () => {
    const s = await connect();
    const c = `c-${randomUUID()}`;
    const old = (await s.createRun(newRun())).run;
    const kept = (await s.createRun(newRun())).run;
    await setAttrs(s, old.runId, { customer: c, gone: true }, { status: 'completed', finishedAt: 1_000 });
    await setAttrs(s, kept.runId, { customer: c }, { status: 'running' });
    for (let n = -1; n !== 0; ) n = await s.deleteFinishedRuns(5_000, 100);
    expect(await s.getRun(old.runId)).toBeUndefined();
    expect(await ids(s, { attributes: { customer: c } })).toEqual([kept.runId]);
    expect(await ids(s, { attributes: { customer: c, gone: true } })).toEqual([]);
  });
}
