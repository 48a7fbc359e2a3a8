import { afterEach, expect, it } from 'vitest';
import { Client, MemoryBroker, MemoryStorage, RetryableError, Worker, step, waitForSignal, workflow, type Broker, type Delivery, type MessageHandler, type Storage, type WorkerOptions } from '../src/index.js';
import { decodeTask, type StepTask, type TaskMessage } from '../src/runtime/tasks/messages.js';

/**
 * A dispatched step whose worker has the run's workflow and listens on its queue: the worker goes on
 * with the run itself when the step ends, and the step's outcome is appended together with what the
 * code does next. One broker message (the step task) and two appends (its claim, its outcome with
 * the next step) per step; a worker that cannot take the run records the outcome alone and sends the
 * run task, as before.
 */

const tries = new Map<string, number>();
const add = step('continue.add', async (a: number, b: number) => a + b);
const flaky = step(
  'continue.flaky',
  async (key: string) => {
    const n = (tries.get(key) ?? 0) + 1;
    tries.set(key, n);
    if (n === 1) throw new RetryableError('first try fails');
    return n;
  },
  { retries: 2, backoff: { initial: '10ms' } },
);
const broken = step('continue.broken', async () => {
  throw new Error('always');
}, { retries: 0 });
const sideAdd = step('continue.side-add', async (a: number) => a + 1, { queue: 'continue-side' });

const three = workflow('continue.three', async () => {
  let sum = 0;
  for (let i = 1; i <= 3; i++) sum = await add(sum, i);
  return sum;
});
const retried = workflow('continue.retried', async (key: string) => flaky(key));
const failing = workflow('continue.failing', async () => broken());
const parallel = workflow('continue.parallel', async () => Promise.all([add(1, 1), add(2, 2), add(3, 3)]));
const sideways = workflow('continue.sideways', async () => sideAdd(await sideAdd(0)));
/** Gates of the gated step, by key: the test decides when its body ends. */
const gates = new Map<string, { reached: () => void; release: Promise<void> }>();
const gated = step('continue.gated', async (key: string) => {
  const gate = gates.get(key);
  gate?.reached();
  await gate?.release;
  return 1;
});
const signalled = workflow('continue.signalled', async (key: string) => {
  const a = await gated(key);
  const b = await waitForSignal<number>('go');
  return a + b;
});
const workflows = [three, retried, failing, parallel, sideways, signalled];

/** Storage and broker that keep what was appended and published. */
function recording(storage: Storage, broker: Broker) {
  const appends: string[][] = [];
  const published: TaskMessage[] = [];
  /** readEvents calls, by run. */
  const reads = new Map<string, number>();
  /** Publishes for which it returns true are dropped (a wake-up lost or held back). */
  const drop: Array<(task: TaskMessage) => boolean> = [];
  /** Deliveries wait for these before their handler runs. */
  const holdDelivery: Array<(task: TaskMessage) => Promise<void> | undefined> = [];
  const s = new Proxy(storage, {
    get(t, prop) {
      const value = Reflect.get(t, prop) as unknown;
      if (prop === 'readEvents') return (runId: string, ...rest: [number?, number?]) => {
        reads.set(runId, (reads.get(runId) ?? 0) + 1);
        return t.readEvents(runId, ...rest);
      };
      if (prop === 'append') return async (req: Parameters<Storage['append']>[0]) => {
        const out = await t.append(req);
        if (req.events.length > 0) appends.push(req.events.map((e) => e.type));
        return out;
      };
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(t) : value;
    },
  });
  const b = new Proxy(broker, {
    get(t, prop) {
      const value = Reflect.get(t, prop) as unknown;
      if (prop === 'publish') return async (queue: string, body: string, options?: { delayMs?: number; dedupKey?: string }) => {
        const task = decodeTask(body);
        published.push(task);
        if (drop.some((d) => d(task))) return;
        return t.publish(queue, body, options);
      };
      if (prop === 'consume') return (queue: string, handler: MessageHandler, options: Parameters<Broker['consume']>[2]) =>
        t.consume(queue, async (d: Delivery) => {
          const task = decodeTask(d.body);
          for (const hold of holdDelivery) await hold(task);
          return handler(d);
        }, options);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(t) : value;
    },
  });
  return { storage: s, broker: b, appends, published, reads, drop, holdDelivery };
}

const started: Worker[] = [];
afterEach(async () => {
  for (const w of started.splice(0)) await w.stop();
});

async function setup(options: Partial<WorkerOptions> = {}) {
  const rec = recording(new MemoryStorage(), new MemoryBroker());
  const client = new Client({ storage: rec.storage, broker: rec.broker });
  const worker = new Worker(client, { workflows, stepMode: 'dispatch', localTimerWindow: 0, ...options });
  await worker.start();
  started.push(worker);
  return { client, ...rec };
}

const runTasks = (published: TaskMessage[], reason: string) => published.filter((t) => t.kind === 'run' && t.reason === reason).length;

it('continues the run where its dispatched step ended: one message and two appends per step', async () => {
  const { client, appends, published } = await setup();
  const run = await client.start(three);
  expect(await run.result({ timeout: '10s' })).toBe(6);
  expect(published.map((t) => t.kind)).toEqual(['run', 'step', 'step', 'step']);
  expect(runTasks(published, 'step')).toBe(0);
  expect(appends).toEqual([
    ['run_started', 'step_scheduled'],
    ['step_started'],
    ['step_completed', 'step_scheduled'],
    ['step_started'],
    ['step_completed', 'step_scheduled'],
    ['step_started'],
    ['step_completed', 'run_completed'],
  ]);
});

it('records a retried attempt with the step task, which sends the next attempt, and continues the run after the last', async () => {
  const { client, appends, published } = await setup();
  const key = crypto.randomUUID();
  const run = await client.start(retried, key);
  expect(await run.result({ timeout: '10s' })).toBe(2);
  expect(published.filter((t) => t.kind === 'step')).toHaveLength(2);
  expect(runTasks(published, 'step')).toBe(0);
  expect(appends.slice(1)).toEqual([['step_started'], ['step_failed'], ['step_started'], ['step_completed', 'run_completed']]);
  const failed = (await run.events()).find((e) => e.type === 'step_failed') as { data: { retryAt?: number } } | undefined;
  expect(failed?.data.retryAt).toBeTypeOf('number');
});

it('records a final failure together with the run it fails', async () => {
  const { client, appends } = await setup();
  const run = await client.start(failing);
  const error = await run.result({ timeout: '10s' }).catch((e: unknown) => e);
  expect(((error as Error).cause as Error).name).toBe('StepFailedError');
  expect(appends.at(-1)).toEqual(['step_failed', 'run_failed']);
});

it('records each of parallel dispatched steps once, whichever execution of the run takes them', async () => {
  const { client, published } = await setup();
  for (let i = 0; i < 10; i++) {
    const run = await client.start(parallel);
    expect(await run.result({ timeout: '10s' })).toEqual([2, 4, 6]);
    const events = await run.events();
    expect(events.filter((e) => e.type === 'step_completed').map((e) => e.correlationId).sort()).toEqual(['1', '2', '3']);
    expect(events.filter((e) => e.type === 'step_started')).toHaveLength(3);
  }
  // A step that ends while another execution of its run is under way here records itself and sends the run task.
  expect(published.filter((t) => t.kind === 'step')).toHaveLength(30);
});

it('sends the run task when the worker that ran the step cannot take the run', async () => {
  const shared = recording(new MemoryStorage(), new MemoryBroker());
  const client = new Client({ storage: shared.storage, broker: shared.broker });
  // The run's worker does not listen on the step's queue; the step worker has no workflow.
  const runs = new Worker(client, { workflows, localTimerWindow: 0 });
  const steps = new Worker(client, { workflows: [], queues: ['continue-side'], localTimerWindow: 0 });
  await runs.start();
  await steps.start();
  started.push(runs, steps);
  const run = await client.start(sideways);
  expect(await run.result({ timeout: '10s' })).toBe(2);
  expect(runTasks(shared.published, 'step')).toBe(2);
  expect(shared.appends.filter((a) => a[0] === 'step_completed')).toEqual([['step_completed'], ['step_completed']]);
});

/** A promise and its resolve function. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** As setup(), but the test's own client reads and writes through the plain storage: only the worker's reads are counted. */
async function setupCountingWorkerReads() {
  const memory = new MemoryStorage();
  const rec = recording(memory, new MemoryBroker());
  const worker = new Worker(new Client({ storage: rec.storage, broker: rec.broker }), { workflows, stepMode: 'dispatch', localTimerWindow: 0 });
  await worker.start();
  started.push(worker);
  return { client: new Client({ storage: memory, broker: rec.broker }), rec };
}

it('reads a dispatched run\'s log once: each claim appends without reading, each continuation takes what its claim saw', async () => {
  const { client, rec } = await setupCountingWorkerReads();
  const run = await client.start(three);
  expect(await run.result({ timeout: '10s' })).toBe(6);
  const steps = rec.published.filter((t): t is StepTask => t.kind === 'step');
  expect(steps.map((t) => t.endsLog)).toEqual([true, true, true]);
  expect(rec.reads.get(run.runId)).toBe(1); // the first advance's replay; nothing after it
});

it('marks only the last of parallel steps scheduled together: the others\' claims read first', async () => {
  const { client, published } = await setup();
  const run = await client.start(parallel);
  expect(await run.result({ timeout: '10s' })).toEqual([2, 4, 6]);
  const steps = published.filter((t): t is StepTask => t.kind === 'step');
  const last = Math.max(...steps.map((t) => t.scheduledSeq));
  expect(steps).toHaveLength(3);
  for (const t of steps) expect(t.endsLog === true).toBe(t.scheduledSeq === last);
});

it('claims after an event appended between the step\'s scheduling and its claim (the append without a read conflicts)', async () => {
  const { client, holdDelivery } = await setup();
  const key = crypto.randomUUID();
  gates.set(key, { reached: () => undefined, release: Promise.resolve() });
  const held = deferred();
  const release = deferred();
  holdDelivery.push((task) => {
    if (task.kind !== 'step' || task.name !== 'continue.gated') return undefined;
    held.resolve();
    return release.promise;
  });
  const run = await client.start(signalled, key);
  await held.promise;
  await client.sendSignal(run.runId, 'go', 41);
  release.resolve();
  expect(await run.result({ timeout: '10s' })).toBe(42);
  const events = await run.events();
  const signal = events.find((e) => e.type === 'signal_received')!;
  const [claim] = events.filter((e) => e.type === 'step_started');
  const scheduled = events.find((e) => e.type === 'step_scheduled')!;
  expect(scheduled.seq).toBeLessThan(signal.seq);
  expect(claim.seq).toBe(signal.seq + 1);
  expect(events.filter((e) => e.type === 'step_started')).toHaveLength(1);
});

it('replays the run when an event came after the claim and its wake-up is held back: the continuation\'s append is fenced', async () => {
  const { client, rec: { drop, reads } } = await setupCountingWorkerReads();
  const key = crypto.randomUUID();
  const reached = deferred();
  const release = deferred();
  gates.set(key, { reached: reached.resolve, release: release.promise });
  // The signal's own wake-up never arrives: only the fenced append can tell the run about it.
  drop.push((task) => task.kind === 'run' && task.reason === 'signal');
  const run = await client.start(signalled, key);
  await reached.promise;
  const readsBefore = reads.get(run.runId) ?? 0;
  await client.sendSignal(run.runId, 'go', 41);
  release.resolve();
  expect(await run.result({ timeout: '10s' })).toBe(42);
  const events = await run.events();
  const signal = events.find((e) => e.type === 'signal_received')!;
  const done = events.find((e) => e.type === 'step_completed')!;
  expect(done.seq).toBeGreaterThan(signal.seq);
  expect(events.filter((e) => e.type === 'step_completed')).toHaveLength(1);
  // The continuation's append conflicted, and the run was read again from storage.
  expect(reads.get(run.runId)! - readsBefore).toBeGreaterThan(0);
});
