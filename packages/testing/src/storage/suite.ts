import { randomUUID } from 'node:crypto';
import { afterEach, describe } from 'vitest';
import { makeEvent, type DurablyEvent, type NewRun, type Storage } from '@durably/core';
import { resolveCapabilities, type Capabilities } from '../capabilities.js';
import type { StorageSuiteContext } from './context.js';
import { runTests } from './runs.js';
import { appendTests } from './append.js';
import { listingTests } from './listing.js';
import { attributeTests } from './attributes.js';
import { timerAndHookTests } from './timers-hooks.js';
import { lifecycleTests } from './lifecycle.js';
import { coordinationTests } from './coordination.js';

/** What a storage adapter gives `storageSuite`: a way to open clients on the backend under test. */
export interface StorageHarness {
  /** A new client on the same backend each call, as another process would have. */
  connect(): Promise<Storage>;
  /** Called after each test, once the clients it opened are closed: drop what the test left on the backend. */
  cleanup?(): Promise<void>;
}

/** Options of `storageSuite(name, harness, options)`: what the storage declares it offers. */
export interface StorageSuiteOptions {
  /** What the storage offers; what is not declared is expected. The storage suite reads `subscribeFinished`. */
  capabilities?: Partial<Capabilities>;
}

/**
 * The storage contract suite. Every adapter runs it with one call; each test isolates itself with
 * fresh run ids and a unique workflow name, so one backend can be shared by all tests. The tests are
 * in one file per area beside this one.
 */
export function storageSuite(name: string, createHarness: () => Promise<StorageHarness>, options: StorageSuiteOptions = {}): void {
  const capabilities = resolveCapabilities(options.capabilities);
  describe(`storage conformance: ${name}`, () => {
    let harness: StorageHarness | undefined;
    const clients: Storage[] = [];

    async function connect(): Promise<Storage> {
      harness ??= await createHarness();
      const s = await harness.connect();
      await s.migrate();
      clients.push(s);
      return s;
    }

    afterEach(async () => {
      await Promise.allSettled(clients.splice(0).map((c) => c.close()));
      if (harness?.cleanup) await harness.cleanup();
      harness = undefined;
    });

    let clock = Date.now();
    function newRun(overrides: Partial<NewRun> = {}): NewRun {
      const runId = overrides.runId ?? randomUUID();
      const createdAt = overrides.createdAt ?? ++clock;
      return {
        runId,
        workflow: overrides.workflow ?? 'conf.wf',
        queue: 'default',
        args: '[[1],"arg"]',
        createdAt,
        firstEvent: makeEvent(runId, 1, 'run_created', { workflow: overrides.workflow ?? 'conf.wf', args: '[[1],"arg"]', queue: 'default' }, undefined, createdAt),
        ...overrides,
      };
    }

    function ev(runId: string, seq: number, label = `s${seq}`): DurablyEvent {
      return makeEvent(runId, seq, 'step_completed', { name: label, attempt: 1, result: `["${label}"]` }, String(seq), Date.now());
    }

    async function seqs(s: Storage, runId: string): Promise<number[]> {
      return (await s.readEvents(runId)).map((e) => e.seq);
    }

    const suite: StorageSuiteContext = { connect, newRun, ev, seqs, capabilities };
    runTests(suite);
    appendTests(suite);
    listingTests(suite);
    attributeTests(suite);
    timerAndHookTests(suite);
    lifecycleTests(suite);
    coordinationTests(suite);
  });
}
