/**
 * Bad-input table, hooks, signals and cancels: wrong, forged, used and expired tokens, payloads that
 * fail their schema, signals and cancels to runs that have finished.
 */
import { expect } from 'vitest';
import { HookAlreadyUsedError, HookExpiredError, HookNotFoundError, HookPayloadInvalidError, RunAlreadyFinishedError, RunNotFoundError } from '@durably/core';
import { randomBytes } from 'node:crypto';
import type { BadInputCase, BadInputEnv } from './types.js';
import { waitFor } from '../wait.js';
import * as W from './workflows.js';

const NOT_FOUND = /No hook has this token\. Check that it was copied whole and that the client uses the same storage as the workflow\./;

/** Runs an approval to its end (resumed, or timed out after `timeoutMs`) and returns its token. */
async function finishedHook(env: BadInputEnv, timeoutMs: number, resume: boolean): Promise<{ token: string; runId: string }> {
  const run = await env.client.start(W.approval, timeoutMs);
  await waitFor(() => W.issuedTokens.has(run.runId), 10_000);
  const token = W.issuedTokens.get(run.runId)!;
  if (resume) await env.client.resumeHook(token, { approved: true, by: 'ana' });
  await run.result({ timeout: '20s' });
  return { token, runId: run.runId };
}

/** The seeded token with its last character changed (a forgery that looks right). */
function forged(token: string): string {
  const last = token.at(-1)!;
  return token.slice(0, -1) + (last === 'A' ? 'B' : 'A');
}

export const hookCases: BadInputCase[] = [
  {
    name: 'resumeHook() with a well-formed token no hook has',
    category: 'hook token',
    scope: 'storage',
    act: (env) => env.client.resumeHook(`h${randomBytes(24).toString('base64url')}`, { approved: true, by: 'ana' }),
    errors: [HookNotFoundError],
    message: NOT_FOUND,
  },
  {
    name: 'resumeHook() with a forged token (one character changed)',
    category: 'hook token',
    scope: 'storage',
    act: (env) => env.client.resumeHook(forged(env.seeded.hookToken), { approved: true, by: 'ana' }),
    errors: [HookNotFoundError],
    message: NOT_FOUND,
  },
  {
    name: 'resumeHook() with the token in upper case',
    category: 'hook token',
    scope: 'storage',
    act: (env) => env.client.resumeHook(env.seeded.hookToken.toUpperCase(), { approved: true, by: 'ana' }),
    errors: [HookNotFoundError],
    message: NOT_FOUND,
  },
  {
    name: 'resumeHook() with the token cut short',
    category: 'hook token',
    scope: 'storage',
    act: (env) => env.client.resumeHook(env.seeded.hookToken.slice(0, 12), { approved: true, by: 'ana' }),
    errors: [HookNotFoundError],
    message: NOT_FOUND,
  },
  {
    name: 'resumeHook() with an empty token, and with a number',
    category: 'hook token',
    scope: 'storage',
    act: async (env) => {
      await expect(env.client.resumeHook('', 1)).rejects.toBeInstanceOf(HookNotFoundError);
      return env.client.resumeHook(12345 as unknown as string, 1);
    },
    errors: [HookNotFoundError],
    message: NOT_FOUND,
  },
  {
    name: 'resumeHook() with a token already used',
    category: 'hook token',
    scope: 'engine',
    setup: (env) => finishedHook(env, 3_600_000, true),
    act: (env, ctx: { token: string }) => env.client.resumeHook(ctx.token, { approved: false, by: 'bob' }),
    errors: [HookAlreadyUsedError],
    message: /This hook of run .+ was already resumed; a token works once\./,
  },
  {
    name: 'resumeHook() with a token whose hook timed out',
    category: 'hook token',
    scope: 'engine',
    setup: (env) => finishedHook(env, 150, false),
    act: (env, ctx: { token: string }) => env.client.resumeHook(ctx.token, { approved: true, by: 'late' }),
    errors: [HookExpiredError],
    message: /This hook of run .+ can no longer be resumed: it expired at \d{4}-\d\d-\d\dT/,
  },
  {
    name: 'resumeHook() with a payload that fails the hook\'s schema: the token stays unspent',
    category: 'hook payload',
    scope: 'engine',
    act: (env) => env.client.resumeHook(env.seeded.hookToken, { approved: 'yes', by: '' }),
    errors: [HookPayloadInvalidError],
    message: /The payload for hook "badinput\.decision" does not match its schema: approved: Expected boolean, received string; by: /,
  },
  {
    name: 'resumeHook() with no payload where the schema wants one',
    category: 'hook payload',
    scope: 'engine',
    act: (env) => env.client.resumeHook(env.seeded.hookToken),
    errors: [HookPayloadInvalidError],
    message: /The payload for hook "badinput\.decision" does not match its schema: \(root\): Required/,
  },
  {
    name: 'sendSignal() to a completed run',
    category: 'finished run',
    scope: 'engine',
    act: (env) => env.client.sendSignal(env.seeded.completed, 'go', 1),
    errors: [RunAlreadyFinishedError],
    message: /Run .+ has already finished \(status: completed\); it takes no more signals, so this one was not delivered\./,
  },
  {
    name: 'cancel() of a completed run',
    category: 'finished run',
    scope: 'engine',
    act: (env) => env.client.cancel(env.seeded.completed, 'too late'),
    errors: [RunAlreadyFinishedError],
    message: /Run .+ has already finished \(status: completed\); there is nothing to cancel\./,
  },
  {
    name: 'cancel() of a failed run',
    category: 'finished run',
    scope: 'engine',
    act: (env) => env.client.cancel(env.seeded.failed),
    errors: [RunAlreadyFinishedError],
    message: /has already finished \(status: failed\); there is nothing to cancel\./,
  },
  {
    name: 'sendSignal() and cancel() to a run id no run has',
    category: 'finished run',
    scope: 'storage',
    act: async (env) => {
      await expect(env.client.cancel('badinput-ghost')).rejects.toBeInstanceOf(RunNotFoundError);
      return env.client.sendSignal('badinput-ghost', 'go', 1);
    },
    errors: [RunNotFoundError],
    message: /No run with id "badinput-ghost" exists in this storage/,
  },
];
