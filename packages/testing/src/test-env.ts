import {
  Client,
  MemoryBroker,
  MemoryStorage,
  Worker,
  parseDuration,
  type Broker,
  type Duration,
  type RunHandle,
  type StartOptions,
  type Step,
  type Workflow,
  type WorkerOptions,
} from '@durably/core';

export interface TestEnvOptions {
  workflows: Workflow<any[], any>[];
  /** Start of the virtual clock. Default: now. */
  startTime?: Date;
  /** Extra worker options (concurrency, stepMode, ...). */
  worker?: Partial<WorkerOptions>;
}

export interface TestEnv {
  readonly client: Client;
  readonly worker: Worker;
  /** The virtual time, as epoch ms. */
  now(): number;
  start<A extends unknown[], R>(wf: Workflow<A, R>, ...args: A): Promise<RunHandle<Awaited<R>>>;
  startWith<A extends unknown[], R>(wf: Workflow<A, R>, args: A, options: StartOptions): Promise<RunHandle<Awaited<R>>>;
  /**
   * Moves the virtual clock forward: sleeps, hook and signal timeouts, retries and delayed starts that
   * fall due run now, in due order, and the call returns once the workers are idle again.
   */
  advanceTime(duration: Duration): Promise<void>;
  /** Waits until no task is queued or running (all runs finished or waiting on time or people). */
  settle(): Promise<void>;
  /** Replaces a step's body in this environment's worker (its recorded name stays the same). */
  mockStep<A extends unknown[], R>(step: Step<A, R>, impl: (...args: A) => R | Promise<R>): void;
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
    scheduleInterval: '50ms',
    inlineRetryMax: 0, // every retry waits on the virtual clock
    localTimerWindow: 0, // every timer waits on the virtual clock
    ...options.worker,
    workflows: options.workflows,
    stepOverrides: overrides,
  });
  await worker.start();

  const settle = async (): Promise<void> => {
    // Idle twice in a row across a macrotask: work in flight may publish more work.
    let quiet = 0;
    while (quiet < 2) {
      await new Promise((r) => setTimeout(r, 5));
      quiet = memory.hub.idle && !worker.busy ? quiet + 1 : 0;
    }
  };

  const advanceTime = async (duration: Duration) => {
    const target = virtualNow + parseDuration(duration, 'advanceTime()');
    await settle();
    for (;;) {
      held.sort((a, b) => a.due - b.due || a.seq - b.seq);
      const next = held[0];
      if (!next || next.due > target) break;
      // Step the clock to each due time in turn, so that work scheduled meanwhile keeps its order.
      virtualNow = Math.max(virtualNow, next.due);
      const due = held.filter((h) => h.due <= virtualNow);
      held.splice(0, due.length);
      for (const h of due) await memory.publish(h.queue, h.body, { dedupKey: h.dedupKey });
      await worker.tickSchedules();
      await settle();
    }
    virtualNow = target;
    await worker.tickSchedules();
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
