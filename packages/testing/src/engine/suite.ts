import { afterEach, describe } from 'vitest';
import { Client, Worker, type Broker, type ClientOptions, type Limits, type PayloadCodec, type Storage, type WorkerOptions } from '@durably/core';
import { resolveCapabilities, type Capabilities } from '../capabilities.js';
import type { SuiteContext } from './context.js';
import { allWorkflows } from './workflows.js';
import { basicsTests } from './basics.js';
import { stepTests } from './steps.js';
import { timerTests } from './timers.js';
import { hookTests } from './hooks.js';
import { multiUseHookTests } from './hooks-multiuse.js';
import { messageTests } from './messages.js';
import { cancellationTests } from './cancellation.js';
import { childTests } from './children.js';
import { continueAsNewTests } from './continue-as-new.js';
import { scheduleTests } from './schedules.js';
import { streamTests } from './streams.js';
import { limitTests } from './limits.js';
import { recoveryTests } from './recovery.js';
import { leaseTests } from './leases.js';
import { dispatchOutcomeTests } from './dispatch-outcomes.js';
import { unknownWorkflowTests } from './unknown-workflow.js';
import { startTests } from './start.js';
import { heartbeatTests } from './heartbeats.js';
import { updateTests } from './updates.js';
import { attributeTests } from './attributes.js';
import { clockSkewTests } from './clock-skew.js';
import { scopeTests } from './scopes.js';

/**
 * What an adapter pair gives `engineSuite`: a way to open storage and broker clients on the backends under test.
 */
export interface EngineHarness {
  /** A new storage and broker client on the same backends (like another process). */
  connect(): Promise<{ storage: Storage; broker: Broker }>;
  /** Called after each test, once the clients it opened are closed: drop what the test left on the backend. */
  cleanup?(): Promise<void>;
}

/** Options of `engineSuite(name, harness, options)`: what the storage and broker pair declares it offers. */
export interface EngineSuiteOptions {
  /**
   * What the storage and broker under test offer; what is not declared is expected (full
   * conformance). The engine suite reads `workerLossRecovery`, `deadLetters` and `delayPrecisionMs`.
   */
  capabilities?: Partial<Capabilities>;
  /** Every client of the suite encrypts payloads with this codec (the suite then proves the engine unchanged under it). */
  codec?: PayloadCodec;
  /** Run only these areas (default: all of {@link ENGINE_AREAS}). */
  areas?: EngineArea[];
}

/** The areas of the engine suite, each a file of tests beside this one, in the order they run. */
export const ENGINE_AREAS = ['leases', 'unknownWorkflow', 'basics', 'steps', 'timers', 'hooks', 'multiUseHooks', 'messages', 'cancellation', 'children', 'continueAsNew', 'limits', 'schedules', 'streams', 'recovery', 'start', 'heartbeats', 'updates', 'attributes', 'clockSkew', 'scopes'] as const;
/** One area of the engine suite. */
export type EngineArea = (typeof ENGINE_AREAS)[number];

const AREA_TESTS: Record<EngineArea, (suite: SuiteContext) => void> = {
  leases: (suite) => {
    leaseTests(suite);
    dispatchOutcomeTests(suite);
  },
  unknownWorkflow: unknownWorkflowTests,
  basics: basicsTests,
  steps: stepTests,
  timers: timerTests,
  hooks: hookTests,
  multiUseHooks: multiUseHookTests,
  messages: messageTests,
  cancellation: cancellationTests,
  children: childTests,
  continueAsNew: continueAsNewTests,
  limits: limitTests,
  schedules: scheduleTests,
  streams: streamTests,
  recovery: recoveryTests,
  start: startTests,
  heartbeats: heartbeatTests,
  updates: updateTests,
  attributes: attributeTests,
  clockSkew: clockSkewTests,
  scopes: scopeTests,
};

/** Worker settings that make sweeps and recovery fast enough for tests. */
const FAST: Partial<WorkerOptions> = {
  timerSweepInterval: '100ms',
  recoveryInterval: '200ms',
  staleAfter: '1500ms',
  visibilityTimeout: '3s',
  concurrency: 20,
};

/**
 * The engine behaviour suite: every capability end to end, through a real worker consuming the
 * broker and a client on the same backends. Each adapter pair runs it with one call; the tests are
 * in one file per area beside this one.
 */
export function engineSuite(name: string, createHarness: () => Promise<EngineHarness>, options: EngineSuiteOptions = {}): void {
  const capabilities = resolveCapabilities(options.capabilities);
  describe(`engine conformance: ${name}`, () => {
    const opened: Array<{ close(): Promise<void> }> = [];
    const workers: Worker[] = [];
    let harness: EngineHarness | undefined;

    async function client(wrap?: (b: Broker) => Broker, limits?: Partial<Limits>, wrapStorage?: (s: Storage) => Storage, clientOptions?: Pick<ClientOptions, 'clockSync'>): Promise<Client> {
      harness ??= await createHarness();
      const { storage, broker } = await harness.connect();
      const c = new Client({ ...clientOptions, storage: wrapStorage ? wrapStorage(storage) : storage, broker: wrap ? wrap(broker) : broker, limits, codec: options.codec });
      opened.push(c);
      await c.ensureReady();
      return c;
    }

    async function worker(c: Client, workerOptions: Partial<WorkerOptions> = {}): Promise<Worker> {
      const w = new Worker(c, { workflows: allWorkflows, ...FAST, ...workerOptions });
      workers.push(w);
      await w.start();
      return w;
    }

    async function setup(workerOptions: Partial<WorkerOptions> = {}) {
      const c = await client();
      const w = await worker(c, workerOptions);
      return { c, w };
    }

    afterEach(async () => {
      await Promise.all(workers.splice(0).map((w) => w.stop()));
      await Promise.all(opened.splice(0).map((c) => c.close()));
      if (harness?.cleanup) await harness.cleanup();
      harness = undefined;
    });

    const suite: SuiteContext = { client, worker, setup, fast: FAST, capabilities };
    for (const area of options.areas ?? ENGINE_AREAS) AREA_TESTS[area](suite);
  });
}
