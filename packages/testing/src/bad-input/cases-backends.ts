/**
 * Bad-input table, backends and limits: URLs with an unknown scheme or a malformed part, servers that
 * nothing answers on (the time until the typed error is bounded and printed), a run past its event limit.
 */
import { expect } from 'vitest';
import { EventLimitExceededError, InvalidArgumentError, InvalidUrlError, StorageError, UnknownSchemeError, WorkflowFailedError, connect, storageFromUrl } from '@durably/core';
import type { BadInputBackend, BadInputCase } from './types.js';
import { oneNewRun } from './cases-arguments.js';
import * as W from './workflows.js';

/** The cases that need the backend's URLs: one per malformed URL, and the unreachable server. */
export function serverCases(backend: BadInputBackend): BadInputCase[] {
  const server = backend.server;
  if (!server) return [];
  const malformed: BadInputCase[] = server.malformedUrls.map(({ url, part }) => ({
    name: `connect() to ${JSON.stringify(url.replace(server.secret, '***'))} (bad ${part})`,
    category: 'malformed URL',
    scope: 'storage',
    act: () => connect({ storage: url, broker: 'memory:', connectTimeout: 0 }),
    errors: [InvalidUrlError],
    message: /^Invalid URL ".*": .+\. Expected a URL such as \S+\./,
    notInMessage: server.secret,
    inspect: (error) => expect((error as InvalidUrlError).part).toBe(part),
  }));
  const hostile: BadInputCase[] = server.hostileOptionUrls.map(({ url, message }) => ({
    name: `connect() to ${JSON.stringify(url)}`,
    category: 'injection',
    scope: 'storage',
    act: () => connect({ storage: url, broker: 'memory:', connectTimeout: 0 }),
    errors: [InvalidArgumentError],
    message,
  }));
  return [
    ...malformed,
    ...hostile,
    {
      name: `connect() to a closed port (${server.unreachableUrl.replace(server.secret, '***')}) with connectTimeout 0`,
      category: 'unreachable server',
      scope: 'storage',
        boundMs: server.unreachableBoundMs,
      act: () => connect({ storage: server.unreachableUrl, broker: 'memory:', connectTimeout: 0 }),
      errors: [StorageError],
      message: /127\.0\.0\.1:1.* is unreachable.*Check that the server runs/s,
      notInMessage: server.secret,
    },
    {
      name: 'the first read of a storage opened on a closed port, without connect()',
      category: 'unreachable server',
      scope: 'storage',
        boundMs: server.unreachableBoundMs,
      act: async () => {
        const storage = await storageFromUrl(server.unreachableUrl);
        try {
          return await storage.getRun('badinput-any');
        } finally {
          await storage.close().catch(() => undefined);
        }
      },
      errors: [StorageError],
      message: /127\.0\.0\.1:1.*(unreachable|ECONNREFUSED)/s,
      notInMessage: server.secret,
    },
  ];
}

export const backendCases: BadInputCase[] = [
  {
    name: 'connect() to "postgress://db/app" (a typo in the scheme)',
    category: 'malformed URL',
    scope: 'storage',
    act: () => connect({ storage: 'postgress://app:s3cret@db/app', broker: 'memory:', connectTimeout: 0 }),
    errors: [UnknownSchemeError],
    message: /Unknown storage scheme "postgress:" in "postgress:\/\/app:\*\*\*@db\/app"\. Known: .*Did you mean "postgres:"\?/,
    notInMessage: 's3cret',
  },
  {
    name: 'connect() with a broker URL "rabbit://host" (no such backend)',
    category: 'malformed URL',
    scope: 'storage',
    act: () => connect({ storage: 'memory:', broker: 'rabbit://host', connectTimeout: 0 }),
    errors: [UnknownSchemeError],
    message: /Unknown broker scheme "rabbit:" in "rabbit:\/\/host"\. Known: .*amqp:/,
  },
  {
    name: 'a run past its event limit (30) fails with the limit error; nothing is written after',
    category: 'event limit',
    scope: 'engine',
    // Well under a second on an idle machine; once under CI load the run took over 30 s to be taken up.
    act: async (env) => (await env.tight.start(W.manySteps, 100)).result({ timeout: '90s' }),
    timeoutMs: 120_000,
    errors: [WorkflowFailedError, EventLimitExceededError],
    message: /reached the limit of 30 events \(limits\.maxEvents\)\. Long loops should end each iteration batch with continueAsNew/,
    effect: (d) => {
      const run = d.after.runs.get(oneNewRun(d, 'failed'))!;
      expect(run.events.length).toBeLessThanOrEqual(W.TIGHT_LIMITS.maxEvents + 1);
      expect(run.events.at(-1)!.type).toBe('run_failed');
    },
  },
  {
    name: 'a signal to a run whose log is full (30 events, no worker on its queue): refused, nothing appended',
    category: 'event limit',
    scope: 'storage',
    setup: async (env) => {
      const run = await env.tight.startWith(W.tightListener, ['go'], { queue: W.IDLE_QUEUE });
      for (let seq = 1; seq < W.TIGHT_LIMITS.maxEvents; seq++) await env.tight.sendSignal(run.runId, 'noise', seq);
      return run.runId;
    },
    act: (env, runId: string) => env.tight.sendSignal(runId, 'noise', 'one too many'),
    errors: [EventLimitExceededError],
    message: /reached the limit of 30 events \(limits\.maxEvents\)\. Long loops should end each iteration batch with continueAsNew/,
  },
];
