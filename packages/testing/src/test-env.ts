import {
  Client,
  InvalidArgumentError,
  MemoryBroker,
  MemoryStorage,
  Worker,
  countSlots,
  parseDuration,
  type Broker,
  type Duration,
  type RunHandle,
  type StartOptions,
  type Step,
  type Workflow,
  type WorkerOptions,
} from '@durably/core';

/** Schedule slots one advanceTime call may stop at (each one starts a run and waits for the work to settle). */
const MAX_SLOT_STOPS = 10_000;

/** Options of `createTestEnv`. */
export interface TestEnvOptions {
  /** The workflows the environment's worker runs. */
  workflows: Workflow<any[], any>[];
  /** Start of the virtual clock. Default: now. */
  startTime?: Date;
  /** Extra worker options (concurrency, stepMode, ...). */
  worker?: Partial<WorkerOptions>;
}

/**
 * A test environment from `createTestEnv`: a client and a worker on in-memory backends, with a virtual
 * clock. Close it at the end of the test.
 *
 * @example
 * ```ts
 * import { sleep, workflow } from '@durably/core';
 * import { createTestEnv } from '@durably/testing';
 *
 * const reminder = workflow('reminder', async (user: string) => {
 *   await sleep('7d');
 *   return `reminded ${user}`;
 * });
 *
 * const env = await createTestEnv({ workflows: [reminder] });
 * const run = await env.start(reminder, 'ada');
 * await env.advanceTime('7d');
 * console.log(await run.result()); // 'reminded ada'
 * await env.close();
 * ```
 */
export interface TestEnv {
  /** The client on the environment's backends (start runs, resume hooks, send signals with it). */
  readonly client: Client;
  /** The worker running the workflows. */
  readonly worker: Worker;
  /** The virtual time, as epoch ms. */
  now(): number;
  /** Starts a run, as `client.start` does. */
  start<A extends unknown[], R>(wf: Workflow<A, R>, ...args: A): Promise<RunHandle<Awaited<R>>>;
  /** Starts a run with options, as `client.startWith` does. */
  startWith<A extends unknown[], R>(wf: Workflow<A, R>, args: A, options: StartOptions): Promise<RunHandle<Awaited<R>>>;
  /**
   * Moves the virtual clock forward: sleeps, hook and signal timeouts, retries, delayed starts and
   * schedule slots that fall due run now, in due order: the clock stops at each of them in turn
   * (each schedule slot starts its own run, with its `scheduledAt`, after the work of the earlier
   * ones has settled), and the call returns once the workers are idle again. A call that would pass
   * more than 10,000 schedule slots throws InvalidArgumentError before moving the clock.
   */
  advanceTime(duration: Duration): Promise<void>;
  /** Fires schedule slots due now, then waits until no task is queued or running (all runs finished or waiting on time or people). */
  settle(): Promise<void>;
  /** Replaces a step's body in this environment's worker (its recorded name stays the same). */
  mockStep<A extends unknown[], R>(step: Step<A, R>, impl: (...args: A) => R | Promise<R>): void;
  /** Stops the worker and closes the client. */
  close(): Promise<void>;
}

/**
 * A test environment for users' workflows: in-memory backends, a real worker, a virtual clock that
 * `advanceTime` moves (a `sleep('7d')` passes in milliseconds), and step mocking.
 */
export async function createTestEnv(options: TestEnvOptions): Promise<TestEnv> {
  let virtualNow = options.startTime?.getTime() ?? Date.now();
  const clock = () => virtualNow;
  const memory = new MemoryBroker();
  const held: Array<{ due: number; seq: number; queue: string; body: string; dedupKey?: string }> = [];
  let seq = 0;
  // Delayed messages wait for virtual time, not wall time.
  const broker: Broker = {
    get maxDelayMs() {
      return Infinity;
    },
    migrate: () => memory.migrate(),
    publish: async (queue, body, publishOptions) => {
      const delay = publishOptions?.delayMs ?? 0;
      if (delay > 0) held.push({ due: virtualNow + delay, seq: seq++, queue, body, dedupKey: publishOptions?.dedupKey });
      else await memory.publish(queue, body, publishOptions);
    },
    consume: (queue, handler, consumeOptions) => memory.consume(queue, handler, consumeOptions),
    deadLetters: (queue, limit) => memory.deadLetters(queue, limit),
    close: () => memory.close(),
  };
  const client = new Client({ storage: new MemoryStorage(), broker, clock });
  const overrides = new Map<string, (...args: any[]) => unknown>();
  const worker = new Worker(client, {
    timerSweepInterval: '50ms',
    // Schedules fire when the virtual clock reaches their slots, driven by advanceTime and settle.
    scheduleInterval: '1h',
    inlineRetryMax: 0, // every retry waits on the virtual clock
    localTimerWindow: 0, // every timer waits on the virtual clock
    ...options.worker,
    workflows: options.workflows,
    stepOverrides: overrides,
  });
  await worker.start();

  const waitIdle = async (): Promise<void> => {
    // Idle twice in a row across a macrotask: work in flight may publish more work.
    let quiet = 0;
    while (quiet < 2) {
      await new Promise((r) => setTimeout(r, 5));
      quiet = memory.hub.idle && !worker.busy ? quiet + 1 : 0;
    }
  };

  const settle = async (): Promise<void> => {
    await waitIdle();
    await worker.tickSchedules();
    await waitIdle();
  };

  /** The earliest slot after the current virtual time of a schedule that is not paused. */
  const nextScheduleSlot = async (): Promise<number | undefined> => {
    let next: number | undefined;
    for (const s of await client.storage.listSchedules()) {
      // A slot at or before now was due at the last tick: only later ones are stops.
      if (s.paused || s.nextFireAt === undefined || s.nextFireAt <= virtualNow) continue;
      if (next === undefined || s.nextFireAt < next) next = s.nextFireAt;
    }
    return next;
  };

  const advanceTime = async (duration: Duration) => {
    const target = virtualNow + parseDuration(duration, 'advanceTime()');
    await settle();
    let slots = 0;
    for (const s of await client.storage.listSchedules()) {
      if (!s.paused) slots += countSlots(s, virtualNow, target, MAX_SLOT_STOPS);
    }
    if (slots > MAX_SLOT_STOPS) {
      throw new InvalidArgumentError(
        `advanceTime(${JSON.stringify(duration)}) would pass more than ${MAX_SLOT_STOPS} schedule slots, each started and settled in turn; advance in smaller steps, or pause the schedules the test does not need.`,
      );
    }
    for (;;) {
      held.sort((a, b) => a.due - b.due || a.seq - b.seq);
      const slot = await nextScheduleSlot();
      const next = Math.min(held[0]?.due ?? Infinity, slot ?? Infinity);
      if (next > target) break;
      // Step the clock to each due time in turn, so that work scheduled meanwhile keeps its order.
      virtualNow = Math.max(virtualNow, next);
      const due = held.filter((h) => h.due <= virtualNow);
      held.splice(0, due.length);
      for (const h of due) await memory.publish(h.queue, h.body, { dedupKey: h.dedupKey });
      await settle();
    }
    virtualNow = target;
    await settle();
  };

  return {
    client,
    worker,
    now: clock,
    start: (wf, ...args) => client.start(wf, ...args),
    startWith: (wf, args, startOptions) => client.startWith(wf, args, startOptions),
    advanceTime,
    settle,
    mockStep: (step, impl) => {
      overrides.set(step.definition.name, impl as (...args: any[]) => unknown);
    },
    close: async () => {
      await worker.stop();
      await client.close();
    },
  };
}
