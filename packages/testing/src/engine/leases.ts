import { expect, it } from 'vitest';
import { createLogger, StorageError, type Broker, type Client, type Storage } from '@durably/core';
import { itNeeds } from '../capabilities.js';
import type { SuiteContext } from './context.js';
import { ofType } from './helpers.js';
import * as W from './workflows.js';
import * as L from './leases-workflows.js';
import { waitFor } from '../wait.js';

/** Clients whose "process" can be killed: afterwards every storage call fails and the broker is gone, as for a SIGKILLed worker. */
export function killable() {
  let dead = false;
  let broker: Broker | undefined;
  const guard = <T extends object>(target: T, keep: string[]): T =>
    new Proxy(target, {
      get(t, prop, receiver) {
        const value = Reflect.get(t, prop, receiver) as unknown;
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => (dead && !keep.includes(String(prop)) ? Promise.reject(new StorageError('this worker process was killed')) : (value as (...a: unknown[]) => unknown).apply(t, args));
      },
    });
  return {
    storage: (s: Storage): Storage => guard(s, ['close']),
    broker: (b: Broker): Broker => (broker = guard(b, ['close', 'maxDelayMs'])),
    /** The process dies: its deliveries are abandoned (they come back after their visibility timeout) and it writes nothing more. */
    async kill(): Promise<void> {
      dead = true;
      await broker?.close();
    },
  };
}

/** Publishes every message twice (the second copy without its dedup key), as an at-least-once broker may. */
function duplicating(inner: Broker): Broker {
  return new Proxy(inner, {
    get(t, prop, receiver) {
      if (prop !== 'publish') return Reflect.get(t, prop, receiver);
      return async (queue: string, body: string, options?: { delayMs?: number; dedupKey?: string }) => {
        await t.publish(queue, body, options);
        await t.publish(queue, body, { delayMs: options?.delayMs });
      };
    },
  });
}

/**
 * Step attempts: recorded with `step_started` before their bodies run, held by their worker under a
 * lease, left alone by other workers while it lives and taken over once it lapses; and timers that
 * fire while inline steps run.
 */
/**
 * A lost worker's run comes back through its lapsed lease in a few seconds; on SQS a wake-up can be
 * swallowed by the dead worker's last long poll and is sent again by the next sweep 12 s later, and
 * one test loses two workers in a row: these tests may take longer than the default test timeout.
 */
const LOSS_TEST_TIMEOUT_MS = 90_000;

export function leaseTests(suite: SuiteContext): void {
  const workflows = [...W.allWorkflows, ...L.leaseWorkflows];
  const quiet = createLogger('silent');
  /** The tests of a worker whose process dies: they need the lease to bring its run back. */
  const needs = (title: string, body: () => Promise<void>, timeout?: number) => itNeeds(suite.capabilities, 'workerLossRecovery', title, body, timeout);

  /** A worker whose process then dies mid-step (`W.lossStep`); the other worker's recovery goes through the lease only. */
  async function loseWorker(wf: typeof W.recovering) {
    const doomed = killable();
    const a = await suite.client(doomed.broker, undefined, doomed.storage);
    // The broker would bring the task back only after a minute: the lease must do it.
    await suite.worker(a, { workflows, visibilityTimeout: '60s', staleAfter: '60s', stepLease: '1s', logger: quiet });
    const run = await a.start(wf);
    await waitFor(() => W.countOf(`${run.runId}:loss`) === 1, 10_000);
    await doomed.kill();
    const t0 = Date.now();
    const b = await suite.client();
    await suite.worker(b, { workflows, visibilityTimeout: '60s', staleAfter: '60s', stepLease: '1s' });
    const outcome = await b.getRun(run.runId).result({ timeout: '30s' }).catch((e: unknown) => e);
    const elapsed = Date.now() - t0;
    W.releases.get(run.runId)?.();
    return { outcome, elapsed, events: await b.getRun(run.runId).events() };
  }

  needs('takes over a run whose worker died during its first step once the lease lapses, and records the interruption', async () => {
    const recovered = await loseWorker(W.recovering);
    expect(recovered.outcome).toBe('done');
    // Lease (1 s) + the timer sweep's grace (2 s) + replay, plus 12 s on SQS when the dead worker's
    // last long poll swallowed the first wake-up; the broker would have taken 60 s.
    expect(recovered.elapsed).toBeLessThan(40_000);
    expect(ofType(recovered.events, 'run_interrupted').map((e) => e.data.attempt)).toEqual([1]);
    const starts = ofType(recovered.events, 'step_started');
    expect(starts).toHaveLength(2); // the attempt cut off, and the same attempt again on the other worker
    expect(starts.map((e) => e.data.attempt)).toEqual([1, 1]);
    expect(starts[0].data.workerId).not.toBe(starts[1].data.workerId);
    expect(ofType(recovered.events, 'step_completed')).toHaveLength(1);
  }, LOSS_TEST_TIMEOUT_MS);

  needs('fails a run whose worker died during its first step when its workflow has recoverOnWorkerLoss: false', async () => {
    const failed = await loseWorker(W.fragile);
    expect(((failed.outcome as Error).cause as Error)?.name).toBe('WorkerLostError');
    expect(((failed.outcome as Error).cause as Error).message).toContain('recoverOnWorkerLoss: false');
    expect(failed.events.map((e) => e.type)).toContain('run_interrupted');
    expect(ofType(failed.events, 'step_completed')).toHaveLength(0);
  }, LOSS_TEST_TIMEOUT_MS);

  needs('counts every worker a first step kills: past maxRecoveryAttempts the run fails instead of looping', async () => {
    let run: Awaited<ReturnType<Client['start']>> | undefined;
    for (let death = 1; death <= 2; death++) {
      const doomed = killable();
      const c = await suite.client(doomed.broker, undefined, doomed.storage);
      await suite.worker(c, { workflows, visibilityTimeout: '60s', staleAfter: '60s', stepLease: '1s', logger: quiet });
      run ??= await c.start(L.crashLooping);
      const id = run.runId;
      await waitFor(() => W.countOf(`${id}:hanging`) === death, 20_000);
      await doomed.kill();
    }
    const survivor = await suite.client();
    await suite.worker(survivor, { workflows, visibilityTimeout: '60s', staleAfter: '60s', stepLease: '1s' });
    const outcome = await survivor.getRun(run!.runId).result({ timeout: '30s' }).catch((e: unknown) => e);
    for (const release of L.hangers.get(run!.runId) ?? []) release();
    expect(((outcome as Error).cause as Error)?.name).toBe('WorkerLostError');
    expect(((outcome as Error).cause as Error).message).toContain('maxRecoveryAttempts (1)');
    const events = await survivor.getRun(run!.runId).events();
    expect(ofType(events, 'run_interrupted').map((e) => e.data.attempt)).toEqual([1, 2]);
    expect(W.countOf(`${run!.runId}:hanging`)).toBe(2); // the third worker did not run it again
  }, LOSS_TEST_TIMEOUT_MS);

  // Hundreds of appends through a duplicating broker: seconds on a server, a minute on an emulator
  // (DynamoDB Local) sharing a loaded machine. What is tested is what ran, not how fast.
  const BULK_TEST_TIMEOUT_MS = 120_000;

  // Nothing crashes in these two tests, so no lease may lapse: the lease is well above the writes'
  // latency. With the default 5 s, DynamoDB Local on a loaded machine (4 s per append was seen)
  // let leases lapse while their workers lived, which is a takeover by design (a second body run);
  // that behaviour is tested on its own above, and docs/concepts/step-attempts.md says how to size it.
  const NO_LAPSE = '30s';

  it('runs each step body exactly once when every message is published twice: 100 runs of 5 steps', async () => {
    const c1 = await suite.client(duplicating);
    const c2 = await suite.client(duplicating);
    await suite.worker(c1, { workflows, stepLease: NO_LAPSE });
    await suite.worker(c2, { workflows, stepLease: NO_LAPSE });
    const before = L.executions.total;
    const runs = await Promise.all(Array.from({ length: 100 }, (_, i) => (i % 2 ? c1 : c2).start(L.fiveSteps)));
    for (const r of runs) expect(await r.result({ timeout: '60s' })).toBe(10);
    expect(L.executions.total - before).toBe(500);
    for (const r of runs) {
      for (let i = 0; i < 5; i++) expect(W.countOf(`${r.runId}:five:${i}`)).toBe(1);
      const events = await r.events();
      const starts = ofType(events, 'step_started');
      const done = ofType(events, 'step_completed');
      expect(starts).toHaveLength(5);
      expect(done).toHaveLength(5);
      // Each step's start comes before its outcome: the step's duration is in the log.
      for (const s of starts) expect(done.find((d) => d.correlationId === s.correlationId)!.seq).toBeGreaterThan(s.seq);
    }
  }, BULK_TEST_TIMEOUT_MS);

  it('runs each dispatched step body once when every message is published twice', async () => {
    const c1 = await suite.client(duplicating);
    const c2 = await suite.client(duplicating);
    await suite.worker(c1, { workflows, stepMode: 'dispatch', stepLease: NO_LAPSE });
    await suite.worker(c2, { workflows, stepMode: 'dispatch', stepLease: NO_LAPSE });
    const before = L.executions.total;
    const runs = await Promise.all(Array.from({ length: 20 }, () => c1.start(L.fiveSteps)));
    for (const r of runs) expect(await r.result({ timeout: '60s' })).toBe(10);
    expect(L.executions.total - before).toBe(100);
    for (const r of runs) expect(ofType(await r.events(), 'step_started')).toHaveLength(5);
  }, BULK_TEST_TIMEOUT_MS);

  it('leaves an attempt in flight to its live worker, which renews its lease while the body runs', async () => {
    const a = await suite.client();
    const b = await suite.client();
    await suite.worker(a, { workflows, stepLease: '1500ms' });
    // Long enough that the three deliveries below (each a publish the broker confirms) end while it runs, on a loaded machine too.
    const run = await a.start(L.longStep, 6000);
    await waitFor(async () => ofType(await run.events(), 'step_started').length === 1, 10_000);
    const [started] = ofType(await run.events(), 'step_started');
    // Another worker gets the run while the step runs, three times over the step's life.
    await suite.worker(b, { workflows, stepLease: '1500ms' });
    for (let i = 0; i < 3; i++) {
      await b.broker.publish('durably.default', JSON.stringify({ v: 1, kind: 'run', runId: run.runId, reason: 'recover' }));
      await new Promise((r) => setTimeout(r, 700));
    }
    const lease = (await a.storage.listTimers(run.runId)).find((t) => t.timerId === `lease:${started.correlationId}`);
    expect(lease!.fireAt).toBeGreaterThan(started.data.leaseUntil); // renewed since the start
    expect(await run.result({ timeout: '20s' })).toBe('worked 6000 ms');
    expect(W.countOf(`${run.runId}:slow-work`)).toBe(1);
    const events = await run.events();
    expect(ofType(events, 'step_started')).toHaveLength(1);
    expect(ofType(events, 'run_interrupted')).toHaveLength(0);
    expect(await a.storage.listTimers(run.runId)).toEqual([]);
  });

  it('fires a sleep that races a running inline step at its time, and records both in the order they happened', async () => {
    const { c } = await suite.setup({ workflows });
    const run = await c.start(L.raceSleep);
    expect(await run.result({ timeout: '20s' })).toEqual({ first: 'sleep', late: 'worked 800 ms' });
    const events = await run.events();
    const [started] = ofType(events, 'step_started');
    const [slept] = ofType(events, 'sleep_started');
    const [woke] = ofType(events, 'sleep_completed');
    const [done] = ofType(events, 'step_completed');
    // The step and the sleep began in one append; the sleep ended first, the step's outcome came after.
    expect(Math.max(started.seq, slept.seq)).toBeLessThan(woke.seq);
    expect(woke.seq).toBeLessThan(done.seq);
    expect(woke.at - slept.at).toBeGreaterThanOrEqual(145);
    expect(done.at - woke.at).toBeGreaterThan(300); // the sleep won long before the step ended
  });

  it('times out a hook and a signal wait that race running inline steps, and ends the run at its maxDuration mid-step', async () => {
    const { c } = await suite.setup({ workflows });
    const t0 = Date.now();
    const run = await c.start(L.raceTimeouts);
    expect(await run.result({ timeout: '20s' })).toEqual(['HookTimeoutError', 'SignalTimeoutError']);
    expect(Date.now() - t0).toBeLessThan(1500); // not after the 800 ms steps, twice over
    const types = (await run.events()).map((e) => e.type);
    expect(types).toEqual(expect.arrayContaining(['hook_timed_out', 'signal_timed_out']));
    const timed = await c.start(L.deadlineMidStep);
    const error = await timed.result({ timeout: '20s' }).catch((e: unknown) => e);
    expect(((error as Error).cause as Error).name).toBe('WorkflowTimeoutError');
    const events = await timed.events();
    expect(events.at(-1)!.at - events[0].at).toBeLessThan(3000); // the 5 s step did not hold it
    expect(await c.storage.listTimers(timed.runId)).toEqual([]);
  });

  it('sends reminders on a timer while long work runs inline', async () => {
    const { c } = await suite.setup({ workflows });
    const run = await c.start(L.reminders);
    const sent = (await run.result({ timeout: '20s' })) as number;
    expect(sent).toBeGreaterThanOrEqual(3);
    expect(ofType(await run.events(), 'step_completed').filter((e) => e.data.name === 'lease.remind')).toHaveLength(sent);
  });
}
