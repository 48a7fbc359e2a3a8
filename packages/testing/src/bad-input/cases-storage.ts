/**
 * Bad-input table, what reaches the storage: cursors and page sizes that are not ones, and names,
 * ids, keys, tags and filters made to break a SQL statement or a Redis key (`'; DROP TABLE`, `*`,
 * `{`, `:`, newlines, very long strings). Each is refused by the name rules, or stored and read back
 * verbatim with nothing else touched: which one is asserted.
 */
import { expect } from 'vitest';
import { HookNotFoundError, InvalidArgumentError, RunNotFoundError, encodeCursor, workflow } from '@durably/core';
import type { BadInputCase, BadInputEnv } from './types.js';
import type { SnapshotDiff } from './snapshot.js';
import { escapeRegExp, oneNewRun } from './cases-arguments.js';
import * as W from './workflows.js';

const SQL = "'; DROP TABLE runs; --";
const SQL_OR = "' OR '1'='1";
/** Characters with a meaning in SQL, Redis keys and patterns, and lines. */
const HOSTILE = `${SQL} * ? [a-z] {tag}:x\n\r\t"\\`;
/** A NUL character: PostgreSQL text cannot hold one, so no stored id or key has it. */
const NUL = 'a\u0000b';

/** A page of listRuns that must match nothing: the filter is a value, never a pattern or SQL. */
function emptyPage(filter: Parameters<BadInputEnv['client']['listRuns']>[0]): BadInputCase['act'] {
  return (env) => env.client.listRuns(filter);
}
const matchesNothing = async (_env: BadInputEnv, _ctx: unknown, result: unknown) => {
  expect((result as { runs: unknown[] }).runs).toEqual([]);
};

/** The case started one pending run on the idle queue with `key`: the only change, with one message. */
function keptVerbatim(key: string) {
  return async (d: SnapshotDiff) => {
    const run = d.after.runs.get(oneNewRun(d, 'pending'))!;
    expect(run.record.idempotencyKey).toBe(key);
    expect(d.published).toBe(1);
  };
}

function startWithKey(key: string): Pick<BadInputCase, 'act' | 'accepted' | 'effect'> {
  return {
    act: async (env) => (await env.client.startWith(W.echo, ['k'], { idempotencyKey: key, queue: W.IDLE_QUEUE })).runId,
    accepted: async (env, _ctx, runId) => {
      const found = await env.client.getRunByKey(W.echo, key);
      expect(found?.runId).toBe(runId);
      expect((await env.storage.getRun(runId as string))?.idempotencyKey).toBe(key);
      // The key is a value, not a pattern: a key like it finds nothing.
      expect(await env.client.getRunByKey(W.echo, `${key.slice(0, -1)}?`)).toBeUndefined();
    },
    effect: keptVerbatim(key),
  };
}

/** Idempotency keys the name rules allow, however hostile: each is stored and found verbatim. */
function verbatimKeyCases(): BadInputCase[] {
  const rows: Array<{ what: string; key: string }> = [
    { what: '"*": stored verbatim, no pattern', key: '*' },
    { what: 'of SQL, "*", "?", "[a-z]", "{tag}:", CR, LF, tab, quotes and backslash', key: HOSTILE },
    { what: 'of 256 characters: stored verbatim', key: `${'k'.repeat(250)}{*}:\n'` },
  ];
  return rows.map(({ what, key }) => ({ name: `idempotency key ${what}`, category: 'injection', scope: 'storage', ...startWithKey(key) }));
}

/** Run ids made to match more than one run (SQL, a pattern) or to break a statement (a NUL): each finds no run. */
function unknownRunCases(): BadInputCase[] {
  const rows: Array<{ what: string; runId: string }> = [
    { what: `run ${JSON.stringify(SQL_OR)}`, runId: SQL_OR },
    { what: 'a run id with a NUL character', runId: NUL },
    { what: 'run "*"', runId: '*' },
  ];
  return rows.map(({ what, runId }) => ({
    name: `status() of ${what}`,
    category: 'injection',
    scope: 'storage',
    act: (env) => env.client.getRun(runId).status(),
    errors: [RunNotFoundError],
    message: new RegExp(`No run with id "${escapeRegExp(runId)}" exists`),
  }));
}

export const storageCases: BadInputCase[] = [
  {
    name: 'listRuns({ cursor: "garbage!" })',
    category: 'bad cursor',
    scope: 'storage',
    act: (env) => env.client.listRuns({ cursor: 'garbage!' }),
    errors: [InvalidArgumentError],
    message: /Invalid listRuns cursor "garbage!": pass back the nextCursor of a previous page unchanged\./,
  },
  {
    name: 'listRuns() with a cursor of valid base64 JSON of the wrong shape',
    category: 'bad cursor',
    scope: 'storage',
    act: (env) => env.client.listRuns({ cursor: Buffer.from('{"createdAt":1}').toString('base64url') }),
    errors: [InvalidArgumentError],
    message: /Invalid listRuns cursor .*pass back the nextCursor/,
  },
  {
    name: 'listRuns() with a well-formed cursor whose run id is SQL: a page, nothing else',
    category: 'bad cursor',
    scope: 'storage',
    act: (env) => env.client.listRuns({ cursor: encodeCursor(Date.now() + 60_000, SQL) }),
    accepted: async (env, _ctx, result) => {
      // Every seeded run was created before the cursor's time: the page holds them, in order.
      const page = result as { runs: Array<{ runId: string }> };
      expect(page.runs.map((r) => r.runId)).toContain(env.seeded.completed);
    },
  },
  {
    name: 'listRuns({ limit: 0 }), and 1.5, and NaN',
    category: 'bad cursor',
    scope: 'storage',
    act: async (env) => {
      await expect(env.client.listRuns({ limit: 1.5 })).rejects.toBeInstanceOf(InvalidArgumentError);
      await expect(env.client.listRuns({ limit: Number.NaN })).rejects.toBeInstanceOf(InvalidArgumentError);
      return env.client.listRuns({ limit: 0 });
    },
    errors: [InvalidArgumentError],
    message: /listRuns: "limit" must be a whole number >= 1, got 0\./,
  },
  {
    name: 'listRuns({ status: "exploded" })',
    category: 'bad cursor',
    scope: 'storage',
    act: (env) => env.client.listRuns({ status: 'exploded' as 'completed' }),
    errors: [InvalidArgumentError],
    message: /listRuns\(\): status "exploded" is invalid: use one of "pending", "running", "suspended", "completed", "failed", "cancelled", "continued", or an array of them\./,
  },
  {
    name: 'listRuns({ createdAfter: "yesterday" })',
    category: 'bad cursor',
    scope: 'storage',
    act: (env) => env.client.listRuns({ createdAfter: 'yesterday' as unknown as number }),
    errors: [InvalidArgumentError],
    message: /listRuns\(\): "createdAfter" must be a time in epoch milliseconds \(a finite number\), got "yesterday"\./,
  },
  {
    name: `start() with runId ${JSON.stringify(SQL)}`,
    category: 'injection',
    scope: 'storage',
    act: (env) => env.client.startWith(W.echo, [1], { runId: SQL }),
    errors: [InvalidArgumentError],
    message: /start\(\): runId "'; DROP TABLE runs; --" is invalid: use 1-128 characters from letters, digits, "_", "-", "\." and ":"\./,
  },
  {
    name: 'start() with runId "*", "{x}" and a newline',
    category: 'injection',
    scope: 'storage',
    act: async (env) => {
      await expect(env.client.startWith(W.echo, [1], { runId: '*' })).rejects.toBeInstanceOf(InvalidArgumentError);
      await expect(env.client.startWith(W.echo, [1], { runId: '{x}' })).rejects.toBeInstanceOf(InvalidArgumentError);
      return env.client.startWith(W.echo, [1], { runId: 'a\nb' });
    },
    errors: [InvalidArgumentError],
    message: /runId "a\\nb" is invalid/,
  },
  {
    name: 'start() with a runId of 10,000 characters',
    category: 'injection',
    scope: 'storage',
    act: (env) => env.client.startWith(W.echo, [1], { runId: 'r'.repeat(10_000) }),
    errors: [InvalidArgumentError],
    message: /runId "r+" is invalid: use 1-128 characters/,
  },
  {
    name: 'a workflow named with SQL',
    category: 'injection',
    scope: 'engine',
    act: async () => workflow(`wf${SQL}`, async () => 1),
    errors: [InvalidArgumentError],
    message: /Workflow name "wf'; DROP TABLE runs; --" is invalid: use 1-200 characters from letters, digits/,
  },
  {
    name: `idempotency key ${JSON.stringify(SQL)}: stored and found verbatim`,
    category: 'injection',
    scope: 'storage',
    ...startWithKey(SQL),
  },
  ...verbatimKeyCases(),
  {
    name: 'idempotency key with a NUL character',
    category: 'injection',
    scope: 'storage',
    act: (env) => env.client.startWith(W.echo, [1], { idempotencyKey: NUL }),
    errors: [InvalidArgumentError],
    message: /start\(\): idempotencyKey "a\\u0000b" contains a NUL character \("\\u0000"\), which storages cannot hold: remove it\./,
  },
  {
    name: 'idempotency key of 257 characters',
    category: 'injection',
    scope: 'storage',
    act: (env) => env.client.startWith(W.echo, [1], { idempotencyKey: 'k'.repeat(257) }),
    errors: [InvalidArgumentError],
    message: /start\(\): idempotencyKey must be a non-empty string of at most 256 characters\./,
  },
  {
    name: 'tags "*" and SQL',
    category: 'injection',
    scope: 'storage',
    act: (env) => env.client.startWith(W.echo, [1], { tags: ['ok', '*', SQL] }),
    errors: [InvalidArgumentError],
    message: /start\(\): "tags" must be at most 20 strings of 1-100 letters, digits/,
  },
  {
    name: 'a queue named "jobs:*"',
    category: 'injection',
    scope: 'storage',
    act: (env) => env.client.startWith(W.echo, [1], { queue: 'jobs:*' }),
    errors: [InvalidArgumentError],
    message: /start\(\): queue "jobs:\*" is invalid: use 1-100 characters from letters, digits, "_", "-" and "\."\./,
  },
  {
    name: 'a schedule id of SQL',
    category: 'injection',
    scope: 'storage',
    act: (env) => env.client.schedules.create(SQL, W.echo, { every: '1h' }),
    errors: [InvalidArgumentError],
    message: /schedule\(\): id "'; DROP TABLE runs; --" is invalid/,
  },
  {
    name: 'a signal named with SQL, "*", "{", ":" and a newline: delivered verbatim, nothing else',
    category: 'injection',
    scope: 'storage',
    act: (env) => env.client.sendSignal(env.seeded.waitingForSignal, HOSTILE, 'payload'),
    accepted: async () => undefined,
    effect: (d, env) => {
      expect(d.added).toEqual([]);
      expect(d.changed).toEqual([env.seeded.waitingForSignal]);
      const before = d.before.runs.get(env.seeded.waitingForSignal)!;
      const after = d.after.runs.get(env.seeded.waitingForSignal)!;
      const appended = after.events.slice(before.events.length);
      expect(appended.map((e) => e.type)).toEqual(['signal_received']);
      expect(appended[0].data).toMatchObject({ name: HOSTILE });
      expect(after.record.status).toBe('suspended');
    },
  },
  {
    name: 'a signal name of 201 characters',
    category: 'injection',
    scope: 'storage',
    act: (env) => env.client.sendSignal(env.seeded.waitingForSignal, 's'.repeat(201), 1),
    errors: [InvalidArgumentError],
    message: /sendSignal: name must be a non-empty string of at most 200 characters\./,
  },
  ...unknownRunCases(),
  {
    name: `resumeHook() with token ${JSON.stringify(SQL_OR)}, "*", 10,000 characters and a NUL`,
    category: 'injection',
    scope: 'storage',
    act: async (env) => {
      await expect(env.client.resumeHook('*', { approved: true, by: 'x' })).rejects.toBeInstanceOf(HookNotFoundError);
      await expect(env.client.resumeHook('h'.repeat(10_000), { approved: true, by: 'x' })).rejects.toBeInstanceOf(HookNotFoundError);
      await expect(env.client.resumeHook(`${env.seeded.hookToken}\u0000`, { approved: true, by: 'x' })).rejects.toBeInstanceOf(HookNotFoundError);
      return env.client.resumeHook(SQL_OR, { approved: true, by: 'x' });
    },
    errors: [HookNotFoundError],
    message: /No hook has this token/,
  },
  {
    name: 'getRunByKey() with "*", SQL and a NUL for a key never used: none',
    category: 'injection',
    scope: 'storage',
    act: async (env) => [await env.client.getRunByKey(W.echo, '*never*'), await env.client.getRunByKey(W.echo, SQL_OR), await env.storage.getRunByIdempotencyKey(W.echo.workflowName, NUL)],
    accepted: async (_env, _ctx, result) => expect(result).toEqual([undefined, undefined, undefined]),
  },
  {
    name: 'listRuns({ workflow }) with SQL and with a NUL: matches nothing',
    category: 'injection',
    scope: 'storage',
    act: async (env) => {
      expect((await env.client.listRuns({ workflow: NUL })).runs).toEqual([]);
      return env.client.listRuns({ workflow: SQL_OR });
    },
    accepted: matchesNothing,
  },
  {
    name: 'listRuns({ workflow: "*" }) and "badinput.*": no pattern',
    category: 'injection',
    scope: 'storage',
    act: async (env) => {
      expect((await env.client.listRuns({ workflow: 'badinput.*' })).runs).toEqual([]);
      return env.client.listRuns({ workflow: '*' });
    },
    accepted: matchesNothing,
  },
  {
    name: 'listRuns({ tags }) with "*", SQL and a NUL: matches nothing',
    category: 'injection',
    scope: 'storage',
    act: emptyPage({ tags: ['*', SQL_OR, NUL] }),
    accepted: matchesNothing,
  },
  {
    name: 'listRuns({ parentRunId }) with SQL, "*" and a NUL: matches nothing',
    category: 'injection',
    scope: 'storage',
    act: async (env) => {
      expect((await env.client.listRuns({ parentRunId: '*' })).runs).toEqual([]);
      expect((await env.client.listRuns({ parentRunId: NUL })).runs).toEqual([]);
      return env.client.listRuns({ parentRunId: SQL_OR });
    },
    accepted: matchesNothing,
  },
];
