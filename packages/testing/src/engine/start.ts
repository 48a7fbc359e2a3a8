import { expect, it } from 'vitest';
import {
  CancelledError,
  Client,
  FatalError,
  InvalidArgumentError,
  NonDeterminismError,
  RunAlreadyFinishedError,
  RunIdInUseError,
  StepFailedError,
  WorkflowFailedError,
  getWorkflow,
  listWorkflows,
  objectToError,
  type Logger,
} from '@durably/core';
import type { SuiteContext } from './context.js';
import * as W from './workflows.js';
import { waitFor } from '../wait.js';

/** A logger that keeps what it is given, for assertions on warnings. */
export function recordingLogger(): Logger & { entries: Array<{ level: string; msg: string; fields?: Record<string, unknown> }> } {
  const entries: Array<{ level: string; msg: string; fields?: Record<string, unknown> }> = [];
  const make = (bindings: Record<string, unknown>): Logger => ({
    debug: (msg, fields) => entries.push({ level: 'debug', msg, fields: { ...bindings, ...fields } }),
    info: (msg, fields) => entries.push({ level: 'info', msg, fields: { ...bindings, ...fields } }),
    warn: (msg, fields) => entries.push({ level: 'warn', msg, fields: { ...bindings, ...fields } }),
    error: (msg, fields) => entries.push({ level: 'error', msg, fields: { ...bindings, ...fields } }),
    child: (fields) => make({ ...bindings, ...fields }),
  });
  return Object.assign(make({}), { entries });
}

/**
 * Engine suite, starting runs and what errors say: idempotency keys (raced, and per workflow), retried
 * starts by runId, cancel reasons, messages for finished runs, and error classes kept across the log.
 */
export function startTests(ctx: SuiteContext): void {
  const { setup } = ctx;

  it('returns the first run for a second start with the same idempotency key', async () => {
    const { c } = await setup();
    const key = `key-${crypto.randomUUID()}`;
    const [a, b] = await Promise.all([
      c.startWith(W.threeSteps, [], { idempotencyKey: key }),
      c.startWith(W.threeSteps, [], { idempotencyKey: key }),
    ]);
    expect(a.runId).toBe(b.runId);
    const again = await c.startWith(W.threeSteps, [], { idempotencyKey: key });
    expect(again.runId).toBe(a.runId);
    expect(await a.result({ timeout: '20s' })).toBe('abc');
    expect(W.countOf(`${a.runId}:counted:a`)).toBe(1);
  });

  it('finds the run started with an idempotency key (getRunByKey) from another client, by workflow or name, scoped by workflow', async () => {
    const { c } = await setup();
    const other = await ctx.client();
    const key = `key-${crypto.randomUUID()}`;
    expect(await other.getRunByKey(W.threeSteps, key)).toBeUndefined();
    const run = await c.startWith(W.threeSteps, [], { idempotencyKey: key });
    const found = await other.getRunByKey(W.threeSteps, key);
    expect(found?.runId).toBe(run.runId);
    expect(await found!.result({ timeout: '20s' })).toBe('abc');
    expect((await other.getRunByKey('suite.three-steps', key))?.runId).toBe(run.runId);
    expect(await other.getRunByKey(W.plainCalls, key)).toBeUndefined();
    await expect(other.getRunByKey(W.threeSteps, '')).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it('returns the run for a start retried with the same runId; another workflow or other arguments get RunIdInUseError naming the run', async () => {
    const { c } = await ctx.setup();
    const runId = `retried-${crypto.randomUUID()}`;
    const [first, retried] = await Promise.all([c.startWith(W.threeSteps, [], { runId }), c.startWith(W.threeSteps, [], { runId })]);
    expect(first.runId).toBe(runId);
    expect(retried.runId).toBe(runId);
    expect([first.created, retried.created].sort()).toEqual([false, true]);
    const again = await c.startWith(W.threeSteps, [], { runId });
    expect(again.created).toBe(false);
    expect(again.argsDiffer).toBe(false);
    expect(await again.result({ timeout: '20s' })).toBe('abc');
    expect(W.countOf(`${runId}:counted:a`)).toBe(1);

    const otherWorkflow = await c.startWith(W.plainCalls, [1], { runId }).catch((e: unknown) => e);
    expect(otherWorkflow).toBeInstanceOf(RunIdInUseError);
    expect(otherWorkflow).toMatchObject({ code: 'RUN_ID_IN_USE', runId, workflow: 'suite.three-steps', requestedWorkflow: 'suite.plain' });
    expect((otherWorkflow as Error).message).toContain(runId);

    const plainId = `retried-${crypto.randomUUID()}`;
    await c.startWith(W.plainCalls, [1], { runId: plainId });
    const otherArgs = await c.startWith(W.plainCalls, [2], { runId: plainId }).catch((e: unknown) => e);
    expect(otherArgs).toBeInstanceOf(RunIdInUseError);
    expect((otherArgs as Error).message).toContain(plainId);
    expect((otherArgs as Error).message).toContain('other arguments');
    expect(await c.getRun(plainId).result({ timeout: '20s' })).toBe(2);
    expect((await c.listRuns({ workflow: 'suite.plain' })).runs.filter((r) => r.runId === plainId)).toHaveLength(1);
  });

  it('scopes idempotency keys by workflow; a key reused with other arguments returns the first run, flags the handle and logs a warning', async () => {
    const { c } = await ctx.setup();
    const logger = recordingLogger();
    const observed = new Client({ storage: c.storage, broker: c.broker, logger });
    const key = `shared-${crypto.randomUUID()}`;
    const plain = await observed.startWith(W.plainCalls, [1], { idempotencyKey: key });
    const three = await observed.startWith(W.threeSteps, [], { idempotencyKey: key });
    expect(three.runId).not.toBe(plain.runId);
    expect([plain.created, three.created]).toEqual([true, true]);
    expect(await plain.result({ timeout: '20s' })).toBe(2);
    expect(await three.result({ timeout: '20s' })).toBe('abc');

    const same = await observed.startWith(W.plainCalls, [1], { idempotencyKey: key });
    expect(same).toMatchObject({ runId: plain.runId, created: false, argsDiffer: false });
    expect(logger.entries.filter((e) => e.level === 'warn')).toEqual([]);

    const reused = await observed.startWith(W.plainCalls, [41], { idempotencyKey: key });
    expect(reused).toMatchObject({ runId: plain.runId, created: false, argsDiffer: true });
    expect(await reused.result({ timeout: '20s' })).toBe(2);
    const warnings = logger.entries.filter((e) => e.level === 'warn');
    expect(warnings).toHaveLength(1);
    expect(warnings[0].msg).toContain('other arguments');
    expect(warnings[0].fields).toMatchObject({ workflow: 'suite.plain', idempotencyKey: key, runId: plain.runId });
  });

  it('keeps the reason given to cancel() in the CancelledError and in the run record', async () => {
    const { c } = await ctx.setup();
    const run = await c.start(W.sleeper, 60_000);
    await waitFor(async () => (await run.status()) === 'suspended', 10_000);
    await run.cancel('the customer left');
    const error = await run.result({ timeout: '20s' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CancelledError);
    expect((error as CancelledError).reason).toBe('the customer left');
    expect((error as Error).message).toContain('the customer left');
    const record = await run.record();
    expect(record.status).toBe('cancelled');
    expect(record.error).toMatchObject({ name: 'CancelledError', code: 'CANCELLED', fields: { reason: 'the customer left' } });
    expect((objectToError(record.error!) as CancelledError).reason).toBe('the customer left');
  });

  it('says a finished run takes no more signals when one is sent to it, and that there is nothing to cancel on cancel', async () => {
    const { c } = await ctx.setup();
    const run = await c.start(W.plainCalls, 1);
    await run.result({ timeout: '20s' });
    const signal = await c.sendSignal(run.runId, 'late', 1).catch((e: unknown) => e);
    expect(signal).toBeInstanceOf(RunAlreadyFinishedError);
    expect(signal).toMatchObject({ runId: run.runId, status: 'completed', action: 'signal' });
    expect((signal as Error).message).toContain('signal');
    expect((signal as Error).message).not.toContain('cancel');
    const cancel = await c.cancel(run.runId).catch((e: unknown) => e);
    expect(cancel).toMatchObject({ action: 'cancel' });
    expect((cancel as Error).message).toContain('nothing to cancel');
  });

  it('rebuilds error classes with their fields across the log: NonDeterminismError, StepFailedError, FatalError', async () => {
    const { c, w } = await ctx.setup();
    W.codeVersion.current = 1;
    try {
      const run = await c.start(W.changingWf);
      await waitFor(async () => (await run.events()).some((e) => e.type === 'sleep_started'), 10_000);
      // Changed code, deployed: a new worker runs it (the old one kept the sleeping execution).
      W.codeVersion.current = 2;
      await w.stop();
      await ctx.worker(c);
      const error = await run.result({ timeout: '20s' }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(WorkflowFailedError);
      const cause = (error as WorkflowFailedError).cause;
      expect(cause).toBeInstanceOf(NonDeterminismError);
      const nd = cause as NonDeterminismError;
      expect(nd.code).toBe('NON_DETERMINISM');
      expect(nd.position).toBe('1');
      expect(nd.recorded).toContain('suite.step-a');
      expect(nd.current).toContain('suite.step-b');
      expect(nd.stack).toContain('NonDeterminismError');
    } finally {
      W.codeVersion.current = 1;
    }

    const fatal = await (await c.start(W.fatalWf, false)).result({ timeout: '20s' }).catch((e: unknown) => e);
    const stepFailed = (fatal as WorkflowFailedError).cause;
    expect(stepFailed).toBeInstanceOf(StepFailedError);
    expect(stepFailed).toMatchObject({ stepName: 'suite.declined', attempts: 1 });
    expect((stepFailed as Error).cause).toBeInstanceOf(FatalError);
    expect(((stepFailed as Error).cause as Error).message).toBe('card declined');
  });

  it('finds a workflow by the name its runs record (getWorkflow) and lists the defined ones (listWorkflows), as the CLI and dashboard do', async () => {
    const { c } = await setup();
    const first = await c.start(W.threeSteps);
    const found = getWorkflow((await first.record()).workflow);
    expect(found).toBe(W.threeSteps);
    const again = await c.start(found!);
    expect(await again.result({ timeout: '20s' })).toBe('abc');
    const listed = listWorkflows().map((wf) => wf.workflowName);
    expect(listed).toEqual([...listed].sort());
    expect(listed).toEqual(expect.arrayContaining(['suite.three-steps', 'suite.onboarding']));
    expect(listed).not.toContain('durably.stream');
    expect(listWorkflows({ builtins: true }).map((wf) => wf.workflowName)).toContain('durably.stream');
    expect(getWorkflow('suite.no-such-workflow')).toBeUndefined();
  });
}
