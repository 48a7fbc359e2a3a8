import { describe, expect, it } from 'vitest';
import { Client, createWorker, DuplicateNameError, MemoryBroker, MemoryStorage, STREAM_WORKFLOW, step, workflow } from '@durably/core';
import { reloaded } from './fixtures/named-workflow.js';

/** The fixture module evaluated again (a query string makes it a new module instance), as a hot reload does. */
async function reimport(tag: string): Promise<typeof import('./fixtures/named-workflow.js')> {
  const specifier = `./fixtures/named-workflow.js?reloaded=${tag}`;
  return (await import(specifier)) as typeof import('./fixtures/named-workflow.js');
}

function definedTwice(define: () => unknown): unknown {
  define();
  try {
    define();
    return undefined;
  } catch (err) {
    return err;
  }
}

describe('unique names', () => {
  it('refuses a second workflow with the name of another, naming both places', () => {
    workflow('names.twice', async () => 1);
    const err = (() => {
      try {
        workflow('names.twice', async () => 2);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(DuplicateNameError);
    expect((err as DuplicateNameError).code).toBe('DUPLICATE_NAME');
    expect((err as Error).message).toContain('"names.twice"');
    expect((err as Error).message).toMatch(/names\.test\.ts:\d+:\d+ and at .*names\.test\.ts:\d+:\d+/);
  });

  it('refuses a second step with the name of another, with the same typed error', () => {
    step('names.step', async () => 1);
    expect(() => step('names.step', async () => 2)).toThrow(DuplicateNameError);
  });

  it('refuses a workflow named like the built-in stream workflow', () => {
    expect(() => workflow(STREAM_WORKFLOW, async () => 1)).toThrow(DuplicateNameError);
  });

  it('accepts the same function defined again, and the same definition made again from the same place (a re-import)', async () => {
    const fn = async () => 'same';
    workflow('names.same-fn', fn);
    expect(() => workflow('names.same-fn', fn)).not.toThrow();
    // One source line run twice, as a module evaluated again runs it: allowed, the newest wins.
    expect(definedTwice(() => workflow('names.same-site', async () => 'x'))).toBeUndefined();
    const again = await reimport('1');
    expect(again.reloaded).not.toBe(reloaded);
    expect(again.reloaded.workflowName).toBe('names.reloaded');
  });

  it('refuses two different workflows with one name at registration; the same one twice is fine', async () => {
    const client = new Client({ storage: new MemoryStorage(), broker: new MemoryBroker() });
    const again = await reimport('2');
    expect(() => createWorker({ client, workflows: [reloaded, again.reloaded] })).toThrow(DuplicateNameError);
    expect(() => createWorker({ client, workflows: [reloaded, again.reloaded] })).toThrow(/createWorker\(\): two different workflows are named "names.reloaded"/);
    expect(() => createWorker({ client, workflows: [reloaded, reloaded] })).not.toThrow();
  });
});
