/**
 * Workflows used by the engine suite. Defined once per process (step names are global), with side
 * effects counted per run so that tests can check that recorded work is not repeated.
 */
import { z } from 'zod';
import { defineStream, runStream, streamStep, checkpoint, context, stepHook, continueAsNew, defineHook, defineQuery, FatalError, patched, RetryableError, runChild, shield, sleep, startChild, startChildWith, step, waitForSignal, workflow, type StepContext, type Workflow, type WorkflowContext } from '@durably/core';

/** Step body executions per key (usually `${runId}:${label}`). */
export const sideEffects = new Map<string, number>();
export function bump(key: string): number {
  const n = (sideEffects.get(key) ?? 0) + 1;
  sideEffects.set(key, n);
  return n;
}
export function countOf(key: string): number {
  return sideEffects.get(key) ?? 0;
}

function runIdOf(): string {
  return (context() as StepContext).runId;
}

export const sendWelcomeEmail = step('suite.send-welcome-email', async (userId: string) => {
  bump(`${runIdOf()}:welcome`);
  return `Welcome email sent to ${userId}`;
});

export const sendTipsEmail = step('suite.send-tips-email', async (userId: string) => {
  bump(`${runIdOf()}:tips`);
  return `Tips email sent to ${userId}`;
});

/** The quick example of the spec, with a short sleep. */
export const onboarding = workflow('suite.onboarding', async (userId: string, sleepMs: number) => {
  const welcome = await sendWelcomeEmail(userId);
  await sleep(sleepMs);
  const tips = await sendTipsEmail(userId);
  return { welcome, tips, done: 'Onboarding complete' };
});

export const echo = step('suite.echo', async (value: unknown) => value);
export const roundTrip = workflow('suite.round-trip', async (value: unknown) => {
  const fromStep = await echo(value);
  return { fromStep, original: value };
});

export const square = step('suite.square', async (n: number, delayMs: number) => {
  bump(`${runIdOf()}:square:${n}`);
  await new Promise((r) => setTimeout(r, delayMs));
  return n * n;
});
export const parallel = workflow('suite.parallel', async (count: number) => {
  const all = await Promise.all(Array.from({ length: count }, (_, i) => square(i, (count - i) * 3)));
  return all;
});
/**
 * Promise.race between a fast and a slow step, then a sleep that outlasts the slow one (so its outcome
 * is recorded too) and suspends the run, forcing a replay before returning.
 */
export const race = workflow('suite.race', async () => {
  const winner = await Promise.race([square(2, 80).then((v) => `slow:${v}`), square(3, 1).then((v) => `fast:${v}`)]);
  await sleep(200);
  const after = await square(4, 1);
  return { winner, after };
});

export const flaky = step(
  'suite.flaky',
  async (failures: number, kind: 'retryable' | 'plain') => {
    const ctx = context() as StepContext;
    const n = bump(`${ctx.runId}:flaky`);
    if (n <= failures) {
      if (kind === 'retryable') throw new RetryableError(`busy (attempt ${ctx.attempt})`);
      throw new Error(`boom (attempt ${ctx.attempt})`);
    }
    return { attempt: ctx.attempt, executions: n };
  },
  { retries: 3, backoff: { initial: 20, factor: 2, jitter: false } },
);
export const retrying = workflow('suite.retrying', async (failures: number, kind: 'retryable' | 'plain') => flaky(failures, kind));

export const declined = step('suite.declined', async () => {
  bump(`${runIdOf()}:declined`);
  throw new FatalError('card declined');
});
export const fatalWf = workflow('suite.fatal', async (catchIt: boolean) => {
  if (!catchIt) return declined();
  try {
    await declined();
    return 'not reached';
  } catch (err) {
    return { caught: (err as Error).name, message: (err as Error).message, cause: ((err as Error).cause as Error | undefined)?.message };
  }
});

export const retryAfterStep = step(
  'suite.retry-after',
  async () => {
    const ctx = context() as StepContext;
    if (ctx.attempt === 1) throw new RetryableError('rate limited', { retryAfter: '150ms' });
    return ctx.attempt;
  },
  { retries: 2, backoff: { initial: '1m' } },
);
export const retryAfterWf = workflow('suite.retry-after', async () => retryAfterStep());

export const slowStep = step(
  'suite.slow',
  async (ms: number) => {
    const ctx = context() as StepContext;
    bump(`${ctx.runId}:slow`);
    if (ctx.attempt === 1) {
      await new Promise((r) => setTimeout(r, ms));
      return `late attempt ${ctx.attempt} (aborted: ${ctx.signal.aborted})`;
    }
    return `attempt ${ctx.attempt}`;
  },
  { timeout: '100ms', retries: 1, backoff: { initial: 10, jitter: false } },
);
export const timeoutWf = workflow('suite.timeout', async () => slowStep(400));

export const alwaysFails = step(
  'suite.always-fails',
  async () => {
    bump(`${runIdOf()}:always`);
    throw new Error('still broken');
  },
  { retries: 2, backoff: { initial: 10, jitter: false } },
);
export const exhaustedWf = workflow('suite.exhausted', async () => alwaysFails());

export const inspect = step('suite.inspect', async () => {
  const ctx = context() as StepContext;
  return {
    kind: ctx.kind,
    runId: ctx.runId,
    stepId: ctx.stepId,
    stepName: ctx.stepName,
    attempt: ctx.attempt,
    idempotencyKey: ctx.idempotencyKey,
    hasLogger: typeof ctx.logger.info === 'function',
    hasSignal: ctx.signal instanceof AbortSignal,
  };
});
export const contextWf = workflow('suite.context', async () => {
  const ctx = context() as WorkflowContext;
  const before = { runId: ctx.runId, now: ctx.now().getTime(), random: ctx.random(), uuid: ctx.uuid() };
  await sleep(20); // suspends: the rest runs after a replay
  const again = context() as WorkflowContext;
  const inStep = await inspect();
  return { before, after: { runId: again.runId }, inStep };
});

/** Behaviour switched by a module flag, to simulate a code change between two executions. */
export const codeVersion = { current: 1 };
export const stepA = step('suite.step-a', async () => 'a');
export const stepB = step('suite.step-b', async () => 'b');
export const changingWf = workflow('suite.changing', async () => {
  const first = codeVersion.current === 1 ? await stepA() : await stepB();
  await sleep(200);
  return first;
});

export const sleeper = workflow('suite.sleeper', async (ms: number) => {
  await sleep(ms);
  return 'woke';
});

export const plainCalls = workflow('suite.plain', async (n: number) => n + 1);

export const emailQueueStep = step(
  'suite.email-on-queue',
  async (to: string) => {
    bump(`${runIdOf()}:email-queue`);
    return `sent to ${to} by ${process.pid}`;
  },
  { queue: 'suite-email' },
);
export const routedWf = workflow('suite.routed', async (to: string) => {
  const a = await echo('before');
  const b = await emailQueueStep(to);
  return { a, b };
});

export const counted = step('suite.counted', async (label: string) => {
  bump(`${runIdOf()}:counted:${label}`);
  await new Promise((r) => setTimeout(r, 5));
  return label;
});
export const threeSteps = workflow('suite.three-steps', async () => {
  const a = await counted('a');
  const b = await counted('b');
  const c = await counted('c');
  return [a, b, c].join('');
});

export const badSleep = workflow('suite.bad-sleep', async () => {
  await sleep('soon' as never);
  return 'not reached';
});

export const allWorkflows: Workflow<any[], any>[] = [
  onboarding,
  roundTrip,
  parallel,
  race,
  retrying,
  fatalWf,
  retryAfterWf,
  timeoutWf,
  exhaustedWf,
  contextWf,
  changingWf,
  sleeper,
  plainCalls,
  routedWf,
  threeSteps,
  badSleep,
];

// ---- Hooks, signals, versioning, continue-as-new ----

export const ApprovalSchema = z.object({ approved: z.boolean(), by: z.string().min(1) });
export const approval = defineHook<z.infer<typeof ApprovalSchema>>('suite.approval', { schema: ApprovalSchema });

/** The token leaves the run through a step, as it would in an email. */
export const publishToken = step('suite.publish-token', async (token: string) => {
  issuedTokens.set((context() as StepContext).runId, token);
  return 'sent';
});
export const issuedTokens = new Map<string, string>();

export const expense = workflow('suite.expense', async (timeoutMs: number) => {
  const hook = approval.create({ timeout: timeoutMs });
  await publishToken(hook.token);
  try {
    const decision = await hook;
    return { decision };
  } catch (err) {
    return { error: (err as Error).name };
  }
});

export const collector = workflow('suite.collector', async (count: number, timeoutMs: number) => {
  const got: unknown[] = [];
  for (let i = 0; i < count; i++) got.push(await waitForSignal('item'));
  await sleep(20);
  let late: unknown;
  try {
    late = await waitForSignal('late', { timeout: timeoutMs });
  } catch (err) {
    late = (err as Error).name;
  }
  return { got, late };
});

export const versioned = { patched: false };
export const oldPath = step('suite.old-path', async () => 'old');
export const newPath = step('suite.new-path', async () => 'new');
export const patchedWf = workflow('suite.patched', async () => {
  await sleep(150);
  // Deploy 1 had only oldPath here; deploy 2 adds the patch.
  const which = versioned.patched && patched('use-new-path') ? await newPath() : await oldPath();
  await sleep(150);
  return which;
});

export const tick = step('suite.tick', async (i: number) => i + 1);
export const looping = workflow('suite.looping', async (i: number, until: number): Promise<number> => {
  const next = await tick(i);
  if (next < until) return continueAsNew(next, until);
  return next;
});

/** Takes one signal per run and continues as new: signals sent meanwhile must follow the chain. */
export const relay = workflow('suite.relay', async (seen: number[], total: number): Promise<number[]> => {
  const next = [...seen, await waitForSignal<number>('item')];
  if (next.length < total) return continueAsNew(next, total);
  return next;
});

allWorkflows.push(expense, collector, patchedWf, looping, relay);

export const big = step('suite.big', async (bytes: number) => 'x'.repeat(bytes));
export const bigResult = workflow('suite.big-result', async (bytes: number) => {
  try {
    await big(bytes);
    return 'not reached';
  } catch (err) {
    return { name: (err as Error).name, cause: ((err as Error).cause as Error | undefined)?.name };
  }
});
export const manySteps = workflow('suite.many-steps', async (n: number) => {
  for (let i = 0; i < n; i++) await tick(i);
  return n;
});
allWorkflows.push(bigResult, manySteps);

export const waitForAbort = step('suite.wait-for-abort', async () => {
  const ctx = context() as StepContext;
  bump(`${ctx.runId}:abortable-started`);
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 20_000);
    ctx.signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
  if (ctx.signal.aborted) bump(`${ctx.runId}:aborted`);
  return 'finished';
});
export const cleanup = step('suite.cleanup', async () => {
  bump(`${runIdOf()}:cleanup`);
  return 'cleaned';
});
export const cancellable = workflow('suite.cancellable', async () => {
  try {
    await waitForAbort();
    await sleep(60_000);
    return 'not cancelled';
  } finally {
    await shield(() => cleanup());
  }
});
allWorkflows.push(cancellable);

export const childWork = workflow('suite.child', async (n: number, fail: boolean) => {
  const v = await tick(n);
  if (fail) throw new FatalError(`child ${n} refused`);
  return v * 10;
});
export const parentWf = workflow('suite.parent', async (n: number) => {
  const a = await runChild(childWork, n, false);
  const handle = await startChild(childWork, n + 1, false);
  let failure: unknown;
  try {
    await runChild(childWork, n + 2, true);
  } catch (err) {
    failure = { name: (err as Error).name, cause: ((err as Error).cause as Error | undefined)?.message };
  }
  return { a, b: await handle.result(), failure, childId: handle.runId };
});
export const longChild = workflow('suite.long-child', async () => {
  try {
    await sleep(60_000);
    return 'woke';
  } finally {
    await shield(() => cleanup());
  }
});
export const leavingParent = workflow('suite.leaving-parent', async (policy: 'terminate' | 'request_cancel' | 'abandon') => {
  const child = await startChildWith(longChild, [], { parentClosePolicy: policy });
  await tick(1);
  return child.runId;
});
allWorkflows.push(childWork, parentWf, longChild, leavingParent);

export const progressQuery = defineQuery<{ received: number }>('suite.progress');
export const queried = workflow('suite.queried', async (count: number) => {
  let received = 0;
  progressQuery.handle(() => ({ received }));
  for (let i = 0; i < count; i++) {
    await waitForSignal('q-item');
    received++;
  }
  return received;
});
allWorkflows.push(queried);

export const scheduledJob = workflow('suite.scheduled', async (label: string, ms: number) => {
  if (ms > 0) await sleep(ms);
  return label;
});
allWorkflows.push(scheduledJob);

/** In-flight tracking for the concurrency tests: current and highest count per group. */
export const inFlight = new Map<string, { now: number; max: number }>();
export const enter = step('suite.enter', async (group: string) => {
  const g = inFlight.get(group) ?? { now: 0, max: 0 };
  g.now++;
  g.max = Math.max(g.max, g.now);
  inFlight.set(group, g);
});
export const leave = step('suite.leave', async (group: string) => {
  inFlight.get(group)!.now--;
});
export const perUser = workflow(
  'suite.per-user',
  async (user: string, tag: string) => {
    await enter(`${tag}:${user}`);
    await sleep(40);
    await leave(`${tag}:${user}`);
    return user;
  },
  { concurrency: { limit: 1, key: (user: string) => user } },
);
export const limitedTotal = workflow(
  'suite.limited-total',
  async (tag: string) => {
    await enter(tag);
    await sleep(40);
    await leave(tag);
    return tag;
  },
  { concurrency: { limit: 2 } },
);
export const rateStarts = new Map<string, number[]>();
export const rateLimited = step(
  'suite.rate-limited',
  async (tag: string) => {
    const list = rateStarts.get(tag) ?? [];
    list.push(Date.now());
    rateStarts.set(tag, list);
  },
  { rateLimit: { limit: 5, period: '500ms' } },
);
export const rateWf = workflow('suite.rate', async (tag: string, n: number) => {
  await Promise.all(Array.from({ length: n }, () => rateLimited(tag)));
  return n;
});
allWorkflows.push(perUser, limitedTotal, rateWf);

/** Hangs on its first execution until its signal fires (the worker hands it back); quick afterwards. */
export const handBackStep = step('suite.hand-back', async () => {
  const ctx = context() as StepContext;
  if (bump(`${ctx.runId}:hand-back`) === 1) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 30_000);
      ctx.signal.addEventListener('abort', () => {
        clearTimeout(timer);
        resolve();
      }, { once: true });
    });
    return `first (aborted: ${ctx.signal.aborted})`;
  }
  return 'second';
});
export const handBackWf = workflow('suite.hand-back', async () => handBackStep());
allWorkflows.push(handBackWf);

export const timedWf = workflow('suite.timed', async () => {
  await sleep(60_000);
  return 'not reached';
}, { maxDuration: '400ms' });

export const positive = step('suite.positive', async (n: number) => n * 2, { schema: z.tuple([z.number().positive()]), retries: 3 });
export const validatedWf = workflow(
  'suite.validated',
  async (email: string, n: number) => {
    try {
      return await positive(n);
    } catch (err) {
      return { name: (err as Error).name, cause: ((err as Error).cause as Error | undefined)?.name, email };
    }
  },
  { schema: z.tuple([z.string().email(), z.number()]) },
);
allWorkflows.push(timedWf, validatedWf);

/** Hangs on its first execution until the test releases it (its worker "dies" meanwhile); quick afterwards. */
export const releases = new Map<string, () => void>();
export const lossStep = step('suite.loss', async () => {
  const ctx = context() as StepContext;
  if (bump(`${ctx.runId}:loss`) === 1) await new Promise<void>((resolve) => releases.set(ctx.runId, resolve));
  return 'done';
});
export const recovering = workflow('suite.recovering', async () => lossStep());
export const fragile = workflow('suite.fragile', async () => lossStep(), { recoverOnWorkerLoss: false });
allWorkflows.push(recovering, fragile);

/** Processes items 1..n, checkpointing after each; the first attempt fails after `failAfter` items. */
export const processed = new Map<string, number[]>();
export const checkpointed = step(
  'suite.checkpointed',
  async (n: number, failAfter: number) => {
    const ctx = context() as StepContext;
    let done = (await checkpoint.load<number>()) ?? 0;
    while (done < n) {
      done++;
      processed.set(ctx.runId, [...(processed.get(ctx.runId) ?? []), done]);
      await checkpoint.save(done);
      if (ctx.attempt === 1 && done === failAfter) throw new RetryableError('interrupted mid-way');
    }
    return done;
  },
  { retries: 2, backoff: { initial: 10, jitter: false } },
);
export const checkpointWf = workflow('suite.checkpoint', async (n: number, failAfter: number) => checkpointed(n, failAfter));
allWorkflows.push(checkpointWf);

export const stepHookTokens = new Map<string, string>();
export const reviewed = step('suite.reviewed', async (doc: string, timeoutMs: number) => {
  const ctx = context() as StepContext;
  bump(`${ctx.runId}:reviewed`);
  try {
    const verdict = await stepHook<{ ok: boolean }>('suite.review', {
      timeout: timeoutMs,
      schema: z.object({ ok: z.boolean() }),
      onToken: (token) => void stepHookTokens.set(ctx.runId, token),
    });
    return `${doc}: ${verdict.ok ? 'approved' : 'rejected'}`;
  } catch (err) {
    return `${doc}: ${(err as Error).name}`;
  }
});
export const reviewWf = workflow('suite.review', async (doc: string, timeoutMs: number) => reviewed(doc, timeoutMs));
allWorkflows.push(reviewWf);

export const stampedJob = workflow('suite.stamped', async (ms: number) => {
  if (ms > 0) await sleep(ms);
  const ctx = context() as WorkflowContext;
  return { scheduledAt: ctx.scheduledAt?.getTime(), scheduleId: ctx.scheduleId };
});
export const declaredJob = workflow('suite.declared', async () => 'tick', { schedule: { every: '150ms', overlap: 'allow_all' } });
allWorkflows.push(stampedJob);

// ---------------------------------------------------------------------------------------------
// Streams: a planner waits for N workers' results and a human approval.

export const planStream = defineStream(
  'suite.plan',
  (input: { tasks: string[] }, s) => {
    s.emit('plan', { expected: input.tasks.length });
    for (const task of input.tasks) s.emit('task.assigned', { task });
  },
  {
    schemas: {
      'task.done': z.object({ task: z.string(), answer: z.string() }),
      approval: z.object({ approved: z.boolean() }),
    },
  },
);

streamStep(planStream, { name: 'worker', signals: ['task.assigned', 'shutdown'] }, async (signal, ctx) => {
  if (signal.type === 'shutdown') return ctx.terminate('planner finished');
  const { task } = signal.payload as { task: string };
  bump(`stream:${ctx.streamRunId}:work:${task}`);
  ctx.emit('task.done', { task, answer: task.toUpperCase() });
});

interface PlannerState {
  expected: number;
  answers: string[];
}

streamStep(planStream, { name: 'planner', signals: ['plan', 'task.done', 'approval'], initialState: { expected: -1, answers: [] } as PlannerState }, (signal, ctx) => {
  const state = { ...ctx.state, answers: [...ctx.state.answers] };
  if (signal.type === 'plan') state.expected = (signal.payload as { expected: number }).expected;
  if (signal.type === 'task.done') state.answers.push((signal.payload as { answer: string }).answer);
  if (signal.type === 'approval') {
    ctx.emit('shutdown');
    return (signal.payload as { approved: boolean }).approved ? ctx.complete({ approved: state.answers.sort() }, state) : ctx.terminate('rejected', state);
  }
  // Every result in: wait for a human.
  if (state.expected >= 0 && state.answers.length === state.expected) return ctx.suspend(state);
  return ctx.resume(state);
});

export const planWorkflow = workflow('suite.plan-wf', async (streamRunId: string, tasks: string[]) => {
  const first = await runStream(planStream, { streamRunId, input: { tasks } });
  const second = await runStream(planStream, { streamRunId });
  return { first, second };
});

/** Delayed signals: one scheduled by a handler, one by a client. */
export const timerStream = defineStream('suite.timers', (input: { delayMs: number }, s) => {
  s.emit('tick', { at: 0 });
  if (input.delayMs > 0) s.emit('tock', { from: 'body' }, { delay: input.delayMs });
});
streamStep(timerStream, { name: 'clock', signals: ['tick', 'tock'], initialState: [] as string[] }, (signal, ctx) => {
  const seen = [...ctx.state, `${signal.type}:${(signal.payload as { from?: string }).from ?? ''}`];
  return seen.length === 3 ? ctx.complete(seen, seen) : ctx.resume(seen);
});
streamStep(timerStream, { name: 'fragile', signals: ['tick'], retries: 0 }, () => {
  throw new FatalError('this handler always fails');
});

export const timerWorkflow = workflow('suite.timers-wf', async (streamRunId: string, delayMs: number) => runStream(timerStream, { streamRunId, input: { delayMs } }));

/** A counter stream that continues as new every 4 signals. */
export const counterStream = defineStream('suite.counter', undefined, { signalsPerRun: 4 });
streamStep(counterStream, { name: 'sum', signals: ['add'], initialState: 0 }, (signal, ctx) => {
  const total = ctx.state + (signal.payload as number);
  return total >= 55 ? ctx.complete(total, total) : ctx.resume(total);
});
export const counterWorkflow = workflow('suite.counter-wf', async (streamRunId: string) => runStream(counterStream, { streamRunId }));

allWorkflows.push(planWorkflow, timerWorkflow, counterWorkflow);
