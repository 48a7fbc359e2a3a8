import { expect } from 'vitest';
import { Client, Worker, listDeadLetters, sleep, step, workflow, type Broker, type DurablyEvent, type Storage, type WorkerOptions } from '@durably/core';

const work = step('restart-scenario.work', async (label: string) => `${label}-done`);
const flow = workflow('restart-scenario.flow', async (n: number) => {
  const a = await work(`a${n}`);
  await sleep(300);
  const b = await work(`b${n}`);
  const c = await work(`c${n}`);
  return [a, b, c];
});

/** What `serverRestartScenario` needs: clients on a private server it may crash and restart. */
export interface RestartScenario {
  /** New storage and broker clients on the server under test. */
  connect(): { storage: Storage; broker: Broker };
  /** Kills the server (as a crash would). */
  crash(): Promise<void>;
  /** Starts it again on the same data. */
  restart(): Promise<void>;
  /** How many runs to start. Default 200. */
  runs?: number;
  /**
   * Worker options over the scenario's own. A broker test passes `{ stepMode: 'dispatch',
   * localTimerWindow: 0 }` so that every step and every wake-up crosses the broker under test.
   */
  worker?: Partial<WorkerOptions>;
}

/**
 * A server restart loses nothing: `runs` workflows (default 200) run on two workers; once some have
 * finished the server is crashed and restarted; every run must complete, each step recorded once and
 * every log contiguous. Call it inside a test of an adapter that can start a private server.
 */
export async function serverRestartScenario(scenario: RestartScenario): Promise<void> {
  const count = scenario.runs ?? 200;
  const clients: Client[] = [];
  const workers: Worker[] = [];
  const connect = () => {
    const c = new Client(scenario.connect());
    clients.push(c);
    return c;
  };
  try {
    const client = connect();
    await client.ensureReady();
    for (let i = 0; i < 2; i++) {
      const w = new Worker(connect(), { workflows: [flow], concurrency: 20, staleAfter: '3s', recoveryInterval: '1s', visibilityTimeout: '5s', timerSweepInterval: '500ms', ...scenario.worker });
      workers.push(w);
      await w.start();
    }
    const runs = await Promise.all(Array.from({ length: count }, (_, i) => client.start(flow, i)));
    const deadline = Date.now() + 30_000;
    while ((await client.listRuns({ workflow: 'restart-scenario.flow', status: 'completed', limit: 1000 })).runs.length < count / 10 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    await scenario.crash();
    await new Promise((r) => setTimeout(r, 1000));
    await scenario.restart();

    const settled = await Promise.allSettled(runs.map((r) => r.result({ timeout: '120s' })));
    const stuck = runs.filter((_, i) => settled[i].status === 'rejected');
    if (stuck.length > 0) {
      // Say where each unfinished run stopped: its last events tell which message it waited for.
      const tails = await Promise.all(
        stuck.slice(0, 5).map(async (r) => `${r.runId}: ${(await r.events()).slice(-6).map((e) => `${e.seq} ${e.type}${e.correlationId ? ` (${e.correlationId})` : ''}`).join(', ')}`),
      );
      // A task dead-lettered (over its delivery limit, say) leaves its run waiting too.
      const dead = await listDeadLetters(client, ['default'], 20).catch((err: unknown) => `(could not list: ${String(err)})`);
      const letters = typeof dead === 'string' ? dead : dead.map((d) => `${d.reason}: ${d.body.slice(0, 120)}`).join('\n') || 'none';
      throw new Error(
        `${stuck.length} of ${count} runs did not finish after the restart (${(settled.find((s) => s.status === 'rejected') as PromiseRejectedResult).reason}). Their last events:\n${tails.join('\n')}\nDead letters:\n${letters}`,
      );
    }
    const results = settled.map((s) => (s as PromiseFulfilledResult<unknown>).value);
    results.forEach((result, i) => expect(result).toEqual([`a${i}-done`, `b${i}-done`, `c${i}-done`]));
    for (const run of runs) {
      const events: DurablyEvent[] = await run.events();
      const completed = events.filter((e) => e.type === 'step_completed');
      expect(completed).toHaveLength(3);
      expect(new Set(completed.map((e) => e.correlationId)).size).toBe(3);
      expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    }
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
    await Promise.all(clients.map((c) => c.close()));
  }
}
