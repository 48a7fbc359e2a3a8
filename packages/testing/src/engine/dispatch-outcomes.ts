import { expect, it } from 'vitest';
import { createLogger, type Storage } from '@durably/core';
import { itNeeds } from '../capabilities.js';
import type { SuiteContext } from './context.js';
import { ofType } from './helpers.js';
import { killable } from './leases.js';
import * as W from './workflows.js';
import * as L from './leases-workflows.js';
import { waitFor } from '../wait.js';

type AppendRequest = Parameters<Storage['append']>[0];

/** Runs hooks around the first append that `when` picks: before it is sent, once it is durable, or when it fails. */
function aroundAppend(inner: Storage, when: (req: AppendRequest) => boolean, hook: { before?: (req: AppendRequest) => Promise<void>; after?: (req: AppendRequest) => Promise<void>; failed?: (err: unknown) => void }): Storage {
  let fired = false;
  return new Proxy(inner, {
    get(t, prop, receiver) {
      const value = Reflect.get(t, prop, receiver) as unknown;
      if (prop !== 'append') return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(t) : value;
      return async (req: AppendRequest) => {
        const mine = !fired && when(req);
        if (mine) fired = true;
        if (mine) await hook.before?.(req);
        const out = await t.append(req).catch((err: unknown) => {
          if (mine) hook.failed?.(err);
          throw err;
        });
        if (mine) await hook.after?.(req);
        return out;
      };
    },
  });
}

/** The append of a chain step's outcome with the next step's step_scheduled (its worker continued the run). */
const recordsOutcomeWithNext = (req: AppendRequest) =>
  req.events.some((e) => e.type === 'step_completed' && e.data.name === 'lease.chain-step') && req.events.some((e) => e.type === 'step_scheduled');

/**
 * A dispatched step's outcome is recorded by its worker's execution of the run when that worker can
 * take the run (step-task.ts: continueHere), together with what the code does next. Each instant a
 * worker can die at on that path leaves a log the engine resumes from, and a concurrent writer costs
 * a replay, never a second outcome.
 */
export function dispatchOutcomeTests(suite: SuiteContext): void {
  const workflows = [...W.allWorkflows, ...L.leaseWorkflows];
  const quiet = createLogger('silent');
  const needs = (title: string, body: () => Promise<void>, timeout?: number) => itNeeds(suite.capabilities, 'workerLossRecovery', title, body, timeout);
  // The broker would bring a lost delivery back only after a minute: recovery must come from storage.
  const slowBroker = { visibilityTimeout: '60s', stepMode: 'dispatch' as const };

  const countsOf = (tag: string) => [0, 1, 2].map((i) => W.countOf(`${tag}:chain:${i}`));

  needs('takes a dispatched step over after its lease when its worker dies between the body and the outcome', async () => {
    const tag = crypto.randomUUID();
    const doomed = killable();
    const a = await suite.client(doomed.broker, undefined, doomed.storage);
    await suite.worker(a, { workflows, ...slowBroker, staleAfter: '60s', stepLease: '1s', logger: quiet });
    L.killAtEnd.set(tag, () => doomed.kill());
    const run = await a.start(L.chain, tag);
    await waitFor(() => !L.killAtEnd.has(tag), 10_000);
    const b = await suite.client();
    await suite.worker(b, { workflows, ...slowBroker, staleAfter: '60s', stepLease: '1s' });
    expect(await b.getRun(run.runId).result({ timeout: '30s' })).toBe(3);
    expect(countsOf(tag)).toEqual([2, 1, 1]); // the body that ended unrecorded ran again, nothing else did
    const events = await b.getRun(run.runId).events();
    expect(ofType(events, 'run_interrupted')).toHaveLength(1);
    expect(ofType(events, 'step_completed')).toHaveLength(3);
    expect(new Set(ofType(events, 'step_completed').map((e) => e.correlationId)).size).toBe(3);
  }, 60_000);

  needs('resumes a run whose worker died after recording a dispatched step with the next step, before sending that step', async () => {
    const tag = crypto.randomUUID();
    const doomed = killable();
    let recorded: string[] = [];
    const a = await suite.client(doomed.broker, undefined, (s) => doomed.storage(aroundAppend(s, recordsOutcomeWithNext, { after: (req) => ((recorded = req.events.map((e) => e.type)), doomed.kill()) })));
    await suite.worker(a, { workflows, ...slowBroker, staleAfter: '60s', logger: quiet });
    const run = await a.start(L.chain, tag);
    await waitFor(() => recorded.length > 0, 10_000);
    const b = await suite.client();
    // A step's outcome and the next step_scheduled are durable, that step's task is not: the stale-run sweep finds the run.
    await suite.worker(b, { workflows, ...slowBroker, staleAfter: '1s' });
    expect(await b.getRun(run.runId).result({ timeout: '30s' })).toBe(3);
    expect(countsOf(tag)).toEqual([1, 1, 1]);
    const events = await b.getRun(run.runId).events();
    expect(ofType(events, 'run_interrupted')).toHaveLength(0);
    expect(recorded).toEqual(['step_completed', 'step_scheduled']); // the outcome and the next step, in one append
    expect(new Set(ofType(events, 'step_completed').map((e) => e.correlationId)).size).toBe(3);
    expect(ofType(events, 'step_completed')).toHaveLength(3);
  }, 60_000);

  it('records a dispatched step once when another writer appends to the run while its worker continues the run', async () => {
    const tag = crypto.randomUUID();
    const other = await suite.client();
    let lost: unknown;
    const a = await suite.client(undefined, undefined, (s) =>
      aroundAppend(s, recordsOutcomeWithNext, { before: (req) => other.sendSignal(req.runId, 'lease.noise', 1).then(() => undefined), failed: (err) => (lost = err) }),
    );
    await suite.worker(a, { workflows, stepMode: 'dispatch' });
    const run = await a.start(L.chain, tag);
    expect(await run.result({ timeout: '20s' })).toBe(3);
    expect((lost as Error)?.name).toBe('AppendConflictError'); // the signal came first: the outcome's append lost the race
    expect(countsOf(tag)).toEqual([1, 1, 1]);
    const events = await run.events();
    expect(ofType(events, 'signal_received')).toHaveLength(1);
    expect(ofType(events, 'step_completed')).toHaveLength(3);
    expect(new Set(ofType(events, 'step_completed').map((e) => e.correlationId)).size).toBe(3);
    expect(ofType(events, 'step_started')).toHaveLength(3);
    expect(ofType(events, 'run_interrupted')).toHaveLength(0);
  });
}
