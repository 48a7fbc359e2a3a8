import { randomUUID } from 'node:crypto';
import { expect, it } from 'vitest';
import { InvalidAttributeError, NonDeterminismError, WorkflowFailedError, setAttributes, workflow, type DurablyEvent } from '@durably/core';
import type { SuiteContext } from './context.js';
import * as W from './workflows.js';
import { waitFor } from '../wait.js';

/**
 * Engine suite, search attributes: a running workflow sets them, listRuns finds it by them as they
 * change, a replay on a fresh worker writes none again, and changed code is a NonDeterminismError.
 */
export function attributeTests(suite: SuiteContext): void {
  const { client, worker, setup } = suite;

  it('sets search attributes mid-run: listRuns finds the run by them, and a fresh worker replaying it writes none twice', async () => {
    const { c, w } = await setup();
    const customer = `c-${randomUUID()}`;
    const run = await c.start(W.attributed, customer, 120);
    const ids = async (attributes: Record<string, string | number | boolean>) => (await c.listRuns({ attributes })).runs.map((r) => r.runId);
    await waitFor(async () => (await ids({ customer, stage: 'waiting' })).includes(run.runId), 10_000);
    expect((await run.record()).attributes).toEqual({ customer, amount: 120, stage: 'waiting' });
    expect(await ids({ customer, amount: 120 })).toEqual([run.runId]);
    expect(await ids({ customer, amount: '120' })).toEqual([]);

    // Another worker (a fresh process) takes the run over: it replays the first setAttributes.
    await w.stop();
    const other = await client();
    await worker(other);
    await other.sendSignal(run.runId, 'pay', 'gold');
    expect(await run.result({ timeout: '20s' })).toBe('gold');

    expect((await run.record()).attributes).toEqual({ customer, stage: 'paid', vip: true });
    expect(await ids({ customer, stage: 'waiting' })).toEqual([]);
    expect(await ids({ customer, amount: 120 })).toEqual([]);
    expect(await ids({ customer, stage: 'paid', vip: true })).toEqual([run.runId]);
    expect((await c.listRuns({ attributes: { customer }, status: 'completed', workflow: 'suite.attributed' })).runs.map((r) => r.runId)).toEqual([run.runId]);
    const sets = (await run.events()).filter((e: DurablyEvent) => e.type === 'attributes_set');
    expect(sets.map((e) => e.data)).toEqual([{ attributes: { customer, amount: 120, stage: 'waiting' } }, { attributes: { stage: 'paid', amount: null, vip: true } }]);
  });

  it('fails the run with NonDeterminismError when a replay sets other attributes than its log holds', async () => {
    const { c, w } = await setup();
    W.attributeCode.stage = 'one';
    const customer = `c-${randomUUID()}`;
    const run = await c.start(W.drifting, customer);
    await waitFor(async () => (await run.events()).some((e) => e.type === 'sleep_started'), 10_000);
    // Changed code, deployed: a new worker runs it (the old one kept the sleeping execution).
    W.attributeCode.stage = 'two';
    await w.stop();
    await worker(c);
    try {
      const error = await run.result({ timeout: '20s' }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(WorkflowFailedError);
      const cause = (error as Error).cause as Error;
      expect(cause).toBeInstanceOf(NonDeterminismError);
      expect(cause.message).toContain('"stage":"one"');
      expect(cause.message).toContain('"stage":"two"');
      // The refused call wrote nothing: the record keeps what the log says.
      expect((await run.record()).attributes).toEqual({ customer, stage: 'one' });
    } finally {
      W.attributeCode.stage = 'one';
    }
  });

  it('refuses invalid attributes with InvalidAttributeError naming the key, inside and outside a workflow', async () => {
    const c = await client();
    expect(() => setAttributes({ a: 1 })).toThrow(/outside a workflow/);
    await expect(c.listRuns({ attributes: { when: new Date() as never } })).rejects.toBeInstanceOf(InvalidAttributeError);
    await expect(c.listRuns({ attributes: { 'bad key': 1 } })).rejects.toThrow(/"bad key"/);
    // Inside a workflow the error is the workflow's to catch (here it fails the run, naming the key and the limit).
    const tooLong = workflow(`suite.attributes-invalid.${randomUUID()}`, async () => setAttributes({ note: 'x'.repeat(300) }));
    await worker(c, { workflows: [tooLong] });
    const error = await (await c.start(tooLong)).result({ timeout: '20s' }).catch((e: unknown) => e);
    const cause = (error as Error).cause as InvalidAttributeError;
    expect(cause).toBeInstanceOf(InvalidAttributeError);
    expect(cause.key).toBe('note');
    expect(cause.limit).toBe('string length');
    expect(cause.message).toContain('256');
  });
}
