/**
 * Bad-input table, arguments and names: values that are not data, payloads over the limit, workflows
 * that are not workflows, names defined twice.
 */
import { expect } from 'vitest';
import {
  ArgumentValidationError,
  DuplicateNameError,
  InvalidArgumentError,
  PayloadTooLargeError,
  RunIdInUseError,
  RunNotFoundError,
  ScheduleNotFoundError,
  SerializationError,
  StepFailedError,
  WorkflowFailedError,
  defineHook,
  step,
  workflow,
  type Workflow,
} from '@durably/core';
import type { BadInputCase } from './types.js';
import type { CountingBroker, SnapshotDiff } from './snapshot.js';
import { waitFor } from '../wait.js';
import * as W from './workflows.js';

const MiB = 1024 * 1024;
const NOT_DATA = /Cannot serialize .*plain data .*not functions or class instances/s;
const TOO_LARGE = /is \d+ bytes serialized; the limit is 1048576 bytes \(limits\.maxPayloadBytes\)\. Store large data elsewhere/;

/** The diff of a case whose act started one run that ended `status`: nothing else changed. */
export function oneNewRun(d: SnapshotDiff, status: string): string {
  expect(d.removed).toEqual([]);
  expect(d.changed).toEqual([]);
  expect(d.schedulesChanged).toBe(false);
  expect(d.deadLetters).toBe(0);
  expect(d.added).toHaveLength(1);
  const run = d.after.runs.get(d.added[0])!;
  expect(run.record.status).toBe(status);
  expect(run.timers).toEqual([]);
  return d.added[0];
}

class Point {
  constructor(readonly x: number) {}
}

/** `text` as a pattern that matches exactly it. */
export const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Defining a name a second time, with another function (or schema): each kind refuses it alike. */
function duplicateNameCases(): BadInputCase[] {
  const anySchema = { safeParse: (v: unknown) => ({ success: true as const, data: v }) };
  const rows: Array<{ kind: string; name: string; how?: string; define(): unknown }> = [
    { kind: 'workflow', name: 'badinput.echo', define: () => workflow('badinput.echo', async () => 'impostor') },
    { kind: 'step', name: 'badinput.big-step', define: () => step('badinput.big-step', async () => 'impostor') },
    { kind: 'hook', name: 'badinput.decision', how: ' with another schema', define: () => defineHook('badinput.decision', { schema: anySchema }) },
  ];
  return rows.map(({ kind, name, how = '', define }) => ({
    name: `a second ${kind} named "${name}"${how}`,
    category: 'duplicate name',
    scope: 'engine',
    act: async () => define(),
    errors: [DuplicateNameError],
    message: new RegExp(`Two different ${kind}s are named "${escapeRegExp(name)}".*rename one of them`),
  }));
}

export const argumentCases: BadInputCase[] = [
  {
    name: 'start() with a function argument',
    category: 'not serializable',
    scope: 'engine',
    act: (env) => env.client.start(W.echo, () => 1),
    errors: [SerializationError],
    message: /the arguments of workflow "badinput\.echo"/,
  },
  {
    name: 'start() with a symbol argument',
    category: 'not serializable',
    scope: 'engine',
    act: (env) => env.client.start(W.echo, Symbol('s')),
    errors: [SerializationError],
    message: NOT_DATA,
  },
  {
    name: 'start() with a class instance argument',
    category: 'not serializable',
    scope: 'engine',
    act: (env) => env.client.start(W.echo, new Point(1)),
    errors: [SerializationError],
    message: NOT_DATA,
  },
  {
    name: 'start() with a circular argument: accepted, and the cycle comes back',
    category: 'not serializable',
    scope: 'engine',
    act: async (env) => {
      const value: { name: string; self?: unknown } = { name: 'loop' };
      value.self = value;
      const run = await env.client.start(W.echo, value);
      return run.result({ timeout: '20s' });
    },
    accepted: async (_env, _ctx, result) => {
      const back = result as { name: string; self: unknown };
      expect(back.name).toBe('loop');
      expect(back.self).toBe(back);
    },
    effect: (d) => void oneNewRun(d, 'completed'),
  },
  {
    name: 'sendSignal() with a function payload',
    category: 'not serializable',
    scope: 'engine',
    act: (env) => env.client.sendSignal(env.seeded.waitingForSignal, 'go', { callback: () => 1 }),
    errors: [SerializationError],
    message: /the payload of signal "go"/,
  },
  {
    name: 'a schedule whose arguments hold a function',
    category: 'not serializable',
    scope: 'engine',
    act: (env) => env.client.schedules.create('badinput-fn-args', W.echo, { every: '1h', args: [() => 1] }),
    errors: [SerializationError],
    message: /the arguments of schedule "badinput-fn-args"/,
  },
  {
    name: 'a step that returns a function: the step fails at once, not retried',
    category: 'not serializable',
    scope: 'engine',
    act: async (env) => (await env.client.start(W.fnResult)).result({ timeout: '20s' }),
    errors: [WorkflowFailedError, StepFailedError, SerializationError],
    message: /Step "badinput\.fn-step" failed after 1 attempt\(s\): SerializationError: Cannot serialize the result of step/,
    effect: (d) => {
      const id = oneNewRun(d, 'failed');
      expect(d.after.runs.get(id)!.events.filter((e) => e.type === 'step_failed')).toHaveLength(1);
    },
  },
  {
    name: 'start() with 1.1 MiB of arguments',
    category: 'oversized payload',
    scope: 'engine',
    act: (env) => env.client.start(W.echo, 'x'.repeat(1.1 * MiB)),
    errors: [PayloadTooLargeError],
    message: TOO_LARGE,
  },
  {
    name: 'sendSignal() with a 2 MiB payload',
    category: 'oversized payload',
    scope: 'engine',
    act: (env) => env.client.sendSignal(env.seeded.waitingForSignal, 'go', 'x'.repeat(2 * MiB)),
    errors: [PayloadTooLargeError],
    message: TOO_LARGE,
  },
  {
    name: 'resumeHook() with a 2 MiB payload: the token stays unspent',
    category: 'oversized payload',
    scope: 'engine',
    act: (env) => env.client.resumeHook(env.seeded.hookToken, { approved: true, by: 'x'.repeat(2 * MiB) }),
    errors: [PayloadTooLargeError],
    message: TOO_LARGE,
  },
  {
    name: 'a schedule with 2 MiB of arguments',
    category: 'oversized payload',
    scope: 'engine',
    act: (env) => env.client.schedules.create('badinput-big-args', W.echo, { every: '1h', args: ['x'.repeat(2 * MiB)] }),
    errors: [PayloadTooLargeError],
    message: TOO_LARGE,
  },
  {
    name: 'a step that returns 10 MB: the step fails with the limit error, nothing of it is stored',
    category: 'oversized payload',
    scope: 'engine',
    timeoutMs: 60_000,
    act: async (env) => (await env.client.start(W.bigResult, 10_000_000)).result({ timeout: '40s' }),
    errors: [WorkflowFailedError, StepFailedError, PayloadTooLargeError],
    message: /Step "badinput\.big-step" failed after 1 attempt\(s\): PayloadTooLargeError: The result of step "badinput\.big-step" is 10000\d\d\d bytes serialized; the limit is 1048576 bytes/,
    effect: (d) => {
      const run = d.after.runs.get(oneNewRun(d, 'failed'))!;
      expect(run.events.filter((e) => e.type === 'step_failed')).toHaveLength(1);
      expect(run.events.some((e) => e.type === 'step_completed')).toBe(false);
      // No event holds the result: the largest is far below the limit.
      expect(Math.max(...run.events.map((e) => JSON.stringify(e).length))).toBeLessThan(64 * 1024);
    },
  },
  {
    name: 'start() with arguments that fail the workflow\'s schema',
    category: 'schema',
    scope: 'engine',
    act: (env) => env.client.start(W.mailer, 'not an address'),
    errors: [ArgumentValidationError],
    message: /Invalid arguments for workflow "badinput\.mailer": 0: Invalid email/,
  },
  {
    name: 'start() of a workflow no worker has: the run waits, saying so, and nothing else is written',
    category: 'unknown workflow',
    scope: 'engine',
    act: async (env) => {
      const run = await env.client.start(W.notOnWorker);
      await waitFor(async () => (await run.waitingFor()) !== undefined, 10_000);
      // The worker passes the task on three times (0.5, 1 and 2 s apart) for a worker that has the
      // workflow, then leaves the run waiting: the act ends once the broker has been quiet for 2.5 s.
      const broker = env.broker as CountingBroker;
      for (let seen = -1, since = Date.now(); Date.now() - since < 2500; await new Promise((r) => setTimeout(r, 100))) {
        if (broker.published !== seen) [seen, since] = [broker.published, Date.now()];
      }
      return run.waitingFor();
    },
    accepted: async (_env, _ctx, waiting) => {
      expect(waiting).toMatchObject({ reason: 'workflow_not_registered', workflow: 'badinput.not-on-worker', queue: W.WORK_QUEUE });
      expect((waiting as { registered: string[] }).registered).toContain('badinput.echo');
    },
    effect: (d) => {
      const run = d.after.runs.get(oneNewRun(d, 'pending'))!;
      expect(run.events.map((e) => e.type)).toEqual(['run_created', 'run_waiting']);
      expect(d.published).toBe(1 + 3); // its start, and the three hops
      expect(d.deadLetters).toBe(0);
    },
  },
  {
    name: 'start() of a plain function, not a workflow',
    category: 'unknown workflow',
    scope: 'engine',
    act: (env) => env.client.start((async () => 1) as unknown as Workflow<[], number>),
    errors: [InvalidArgumentError],
    message: /the first argument must be a workflow made with workflow\(name, fn\)/,
  },
  {
    name: 'a schedule of a workflow named "no such workflow!"',
    category: 'unknown workflow',
    scope: 'engine',
    act: (env) => env.client.schedules.create('badinput-unknown-wf', 'no such workflow!', { every: '1h' }),
    errors: [InvalidArgumentError],
    message: /the second argument must be a workflow made with workflow\(name, fn\), or its name/,
  },
  {
    name: 'status() of a run id no run has',
    category: 'unknown workflow',
    scope: 'storage',
    act: (env) => env.client.getRun('badinput-no-such-run').status(),
    errors: [RunNotFoundError],
    message: /No run with id "badinput-no-such-run" exists in this storage\. Check the id/,
  },
  {
    name: 'trigger() of a schedule id no schedule has',
    category: 'unknown workflow',
    scope: 'storage',
    act: (env) => env.client.schedules.trigger('badinput-no-such-schedule'),
    errors: [ScheduleNotFoundError],
    message: /No schedule with id "badinput-no-such-schedule"\. List them with client\.schedules\.list\(\)/,
  },
  ...duplicateNameCases(),
  {
    name: 'start() with the run id of a run of another workflow',
    category: 'duplicate name',
    scope: 'storage',
    act: (env) => env.client.startWith(W.listener, ['go'], { runId: env.seeded.completed }),
    errors: [RunIdInUseError],
    message: /is already used by a run of workflow "badinput\.echo", not "badinput\.listener"\. Use another runId/,
  },
];
