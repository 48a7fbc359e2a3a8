import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, Worker, type Broker, type Logger, type Storage } from '@durably/core';
import { CountingBroker, describeDiff, diff, snapshot, unchanged, type StateSnapshot } from './snapshot.js';
import type { BadInputBackend, BadInputCase, BadInputEnv, BadInputRow, SeededRuns } from './types.js';
import { argumentCases } from './cases-arguments.js';
import { optionCases } from './cases-options.js';
import { hookCases } from './cases-hooks.js';
import { storageCases } from './cases-storage.js';
import { backendCases, serverCases } from './cases-backends.js';
import { waitFor } from '../wait.js';
import * as W from './workflows.js';

/** What a backend gives `badInputSuite`: storage and broker clients on it, and what it is. */
export interface BadInputHarness {
  /** A new storage and broker client on the backends under test. */
  connect(): Promise<{ storage: Storage; broker: Broker }>;
  /** Called at the end, once the clients are closed: drop what the table left on the backend. */
  cleanup?(): Promise<void>;
}

/** Options of `badInputSuite`: what the backend is, and which cases run on it. */
export interface BadInputSuiteOptions {
  /** The backend under test (its kind, and its URLs for a server backend). */
  backend: BadInputBackend;
  /** `storage`: only the cases that exercise the storage and the backend (the others need only one backend). Default `all`. */
  cases?: 'all' | 'storage';
}

/** Every case of the table, for `backend` (its URL cases included). */
export function badInputCases(backend: BadInputBackend): BadInputCase[] {
  return [...argumentCases, ...optionCases, ...hookCases, ...storageCases, ...backendCases, ...serverCases(backend)];
}

/** The cause chain of an error, outermost first. */
function chain(error: unknown): unknown[] {
  const out: unknown[] = [];
  for (let e = error; e !== undefined && out.length < 10; e = (e as { cause?: unknown }).cause) out.push(e);
  return out;
}

/** The table as printed: one line per case, the error class (or "accepted") and the milliseconds its act took. */
export function formatRows(rows: BadInputRow[]): string {
  const width = Math.max(...rows.map((r) => `${r.category}: ${r.name}`.length));
  const errorWidth = Math.max(5, ...rows.map((r) => r.outcome.length));
  const line = (name: string, outcome: string, ms: string) => `${name.padEnd(width)}  ${outcome.padEnd(errorWidth)}  ${ms.padStart(8)}`;
  const lines = rows.map((r) => line(`${r.category}: ${r.name}`, r.outcome, r.ms.toFixed(1)));
  return [`bad input (${rows[0]?.backend}): ${rows.length} cases`, line('case', 'error', 'ms'), ...lines].join('\n');
}

/**
 * The bad-input table: each case does one wrong thing (a value that is not data, a payload over the
 * limit, a forged token, an injection through a name, a URL that is not one, a server that is not
 * there...) and must get its typed error, with a message that says what was wrong and what to do,
 * and change nothing: the whole state is read before and after (runs, logs, timers, hooks,
 * schedules, messages published, dead letters) and compared. Prints the table at the end.
 */
export function badInputSuite(name: string, createHarness: () => Promise<BadInputHarness>, options: BadInputSuiteOptions): void {
  describe(`bad input: ${name}`, () => {
    let harness: BadInputHarness;
    let env: BadInputEnv & { brokers: CountingBroker[] };
    const workers: Worker[] = [];
    const clients: Client[] = [];
    const rows: BadInputRow[] = [];
    const queues = [W.WORK_QUEUE, W.TIGHT_QUEUE, W.IDLE_QUEUE];

    const read = (): Promise<StateSnapshot> => snapshot(env.storage, env.brokers, queues);
    /** Waits until two reads 100 ms apart agree: work started by the setup or the act has settled. */
    async function settle(): Promise<StateSnapshot> {
      let last = await read();
      for (const deadline = Date.now() + 15_000; Date.now() < deadline; ) {
        await new Promise((r) => setTimeout(r, 100));
        const next = await read();
        if (unchanged(diff(last, next))) return next;
        last = next;
      }
      throw new Error('the state did not settle within 15 s');
    }

    beforeAll(async () => {
      harness = await createHarness();
      const open = async (limits?: typeof W.TIGHT_LIMITS) => {
        const { storage, broker } = await harness.connect();
        const counting = new CountingBroker(broker);
        const client = new Client({ storage, broker: counting, limits, logger: silent });
        clients.push(client);
        await client.ensureReady();
        return { client, counting };
      };
      const main = await open();
      const tight = await open(W.TIGHT_LIMITS);
      // Sweeps that would write while a case runs are slowed down: only the case's own work writes.
      const quiet = { staleAfter: '1h', recoveryInterval: '1h', scheduler: false, timerSweepInterval: '100ms', concurrency: 10 } as const;
      for (const [c, queue] of [[main.client, W.WORK_QUEUE], [tight.client, W.TIGHT_QUEUE]] as const) {
        const w = new Worker(c, { workflows: W.badInputWorkflows, queues: [queue], logger: silent, ...quiet });
        workers.push(w);
        await w.start();
      }
      const seeded = await seed(main.client);
      env = { client: main.client, tight: tight.client, storage: main.client.storage, broker: main.counting, backend: options.backend, seeded, brokers: [main.counting, tight.counting] };
    }, 60_000);

    afterAll(async () => {
      if (rows.length) console.log(formatRows(rows));
      await Promise.all(workers.map((w) => w.stop()));
      await Promise.all(clients.map((c) => c.close()));
      await harness?.cleanup?.();
    }, 60_000);

    const selected = badInputCases(options.backend).filter((c) => options.cases !== 'storage' || c.scope === 'storage');
    for (const live of selected) {
      it(`${live.category}: ${live.name}`, async () => {
        const context = live.setup ? await live.setup(env) : undefined;
        const before = await settle();
        const t0 = performance.now();
        let result: unknown;
        let error: unknown;
        try {
          result = await live.act(env, context);
        } catch (e) {
          error = e;
        }
        const ms = performance.now() - t0;
        if (live.errors) {
          expect(error, 'the act should have thrown').toBeDefined();
          const causes = chain(error);
          live.errors.forEach((cls, i) => expect(causes[i], `cause #${i} of ${String(error)}`).toBeInstanceOf(cls));
          expect((error as Error).message).toMatch(live.message!);
          if (live.notInMessage) expect((error as Error).message).not.toContain(live.notInMessage);
          live.inspect?.(error);
        } else {
          expect(error).toBeUndefined();
          await live.accepted!(env, context, result);
        }
        if (live.boundMs !== undefined) expect(ms).toBeLessThan(live.boundMs);
        const after = await settle();
        const d = diff(before, after);
        if (live.effect) await live.effect(d, env, context);
        else expect(unchanged(d), `the state changed: ${describeDiff(d)}`).toBe(true);
        const outcome = live.errors ? live.errors.map((e) => e.name).join(' > ') : 'accepted';
        rows.push({ backend: name, category: live.category, name: live.name, outcome, ms });
      }, live.timeoutMs ?? 30_000);
    }
  });
}

/** The table's runs fail on purpose: their error logs would only hide the printed table. */
const silent: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };

/** The runs a bad input could damage, one in each state, and a paused schedule. */
async function seed(client: Client): Promise<SeededRuns> {
  const completed = await client.start(W.echo, 'seed');
  await completed.result({ timeout: '20s' });
  const failed = await client.start(W.failing);
  await failed.result({ timeout: '20s' }).catch(() => undefined);
  const onHook = await client.start(W.approval, 3_600_000);
  await waitFor(() => W.issuedTokens.has(onHook.runId), 20_000);
  const onSignal = await client.start(W.listener, 'go');
  for (const run of [onHook, onSignal]) await waitFor(async () => (await run.status()) === 'suspended', 20_000);
  const scheduleId = 'badinput-seeded';
  await client.schedules.create(scheduleId, W.echo, { every: '1h', args: ['scheduled'] });
  await client.schedules.pause(scheduleId);
  return { completed: completed.runId, failed: failed.runId, suspendedOnHook: onHook.runId, hookToken: W.issuedTokens.get(onHook.runId)!, waitingForSignal: onSignal.runId, scheduleId };
}
