import { expect, it } from 'vitest';
import { step, workflow, type Broker, type Logger } from '@durably/core';
import type { SuiteContext } from './context.js';
import * as W from './workflows.js';

/** A workflow the suite's workers do not have, until a test starts one that has it. */
export const orphanStep = step('unknown.orphan-step', async (n: number) => n * 2);
export const orphan = workflow('unknown.orphan', async (n: number) => orphanStep(n));

/** Captures what a worker logs at error level. */
function capturing(): { logger: Logger; errors: Array<{ msg: string; fields: Record<string, unknown> }> } {
  const errors: Array<{ msg: string; fields: Record<string, unknown> }> = [];
  const make = (bound: Record<string, unknown>): Logger => ({
    debug: () => undefined,
    info: () => undefined,
    warn: () => undefined,
    error: (msg, fields) => errors.push({ msg, fields: { ...bound, ...fields } }),
    child: (fields) => make({ ...bound, ...fields }),
  });
  return { logger: make({}), errors };
}

/** Counts the messages published that name `runId`. */
function counting(counts: Map<string, number>) {
  return (inner: Broker): Broker =>
    new Proxy(inner, {
      get(t, prop, receiver) {
        if (prop !== 'publish') return Reflect.get(t, prop, receiver);
        return async (queue: string, body: string, options?: object) => {
          const runId = (JSON.parse(body) as { runId?: string }).runId ?? '?';
          counts.set(runId, (counts.get(runId) ?? 0) + 1);
          await t.publish(queue, body, options);
        };
      },
    });
}

/** Runs of a workflow that no worker has: they wait, pending, for one that has it. */
export function unknownWorkflowTests(suite: SuiteContext): void {
  it('keeps a run of a workflow no worker has pending, without dead letters or churn, says why, and starts it when a worker with it starts', async () => {
    const published = new Map<string, number>();
    const a = capturing();
    const b = capturing();
    const c1 = await suite.client(counting(published));
    const c2 = await suite.client(counting(published));
    // Two workers without the workflow, with the suite's fast sweeps (recovery every 200 ms, stale after 1.5 s).
    await suite.worker(c1, { logger: a.logger });
    await suite.worker(c2, { logger: b.logger });
    const run = await c1.start(orphan, 21);
    const waiting = async () => (await run.waitingFor()) !== undefined;
    const deadline = Date.now() + 10_000;
    while (!(await waiting())) {
      if (Date.now() > deadline) throw new Error('the run was never marked as waiting');
      await new Promise((r) => setTimeout(r, 20));
    }
    // Time for the task's few hops and many recovery sweeps.
    await new Promise((r) => setTimeout(r, 5000));
    expect(await run.status()).toBe('pending');
    // Nothing dead-lettered: read where the broker can list its dead letters.
    if (suite.capabilities.deadLetters) expect(await c1.broker.deadLetters('durably.default')).toEqual([]);
    expect(published.get(run.runId)).toBeLessThanOrEqual(4); // the start, then at most 3 hops: no churn
    const info = (await run.waitingFor())!;
    expect(info).toMatchObject({ reason: 'workflow_not_registered', workflow: 'unknown.orphan', queue: 'default' });
    expect(info.registered).toContain(W.onboarding.workflowName);
    expect(info.since).toBeLessThanOrEqual(Date.now());
    // Each worker that received it logged one error naming the workflow, the queue and what it has.
    const received = new Set((await run.events()).flatMap((e) => (e.type === 'run_waiting' ? [e.data.workerId] : [])));
    for (const worker of [a, b]) {
      const about = worker.errors.filter((e) => e.fields.workflow === 'unknown.orphan');
      expect(about.length).toBeLessThanOrEqual(1);
      if (about.length === 1) {
        expect(about[0].msg).toContain('"unknown.orphan"');
        expect(about[0].fields.queue).toBe('default');
        expect(about[0].fields.registered).toContain(W.onboarding.workflowName);
      }
    }
    expect(a.errors.length + b.errors.length).toBeGreaterThanOrEqual(1);
    expect(received.size).toBe(1); // marked once, however often it was received

    // A worker that has it starts: it finds the waiting run at once (its own recovery sweep is off).
    const c3 = await suite.client();
    await suite.worker(c3, { workflows: [...W.allWorkflows, orphan], recoveryInterval: '1h' });
    expect(await run.result({ timeout: '15s' })).toBe(42);
    expect(await run.waitingFor()).toBeUndefined();
  });
}
