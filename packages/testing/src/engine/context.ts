import type { Broker, Client, ClientOptions, Limits, Storage, Worker, WorkerOptions } from '@durably/core';
import type { Capabilities } from '../capabilities.js';

/** What the engine suite gives the files that add tests to it by area. */
export interface SuiteContext {
  /**
   * A new client on the harness's backends (like another process); wraps let a test lose or duplicate
   * messages, or kill the "process"; `options.clockSync` plays a machine whose clock is off.
   */
  client(wrap?: (b: Broker) => Broker, limits?: Partial<Limits>, wrapStorage?: (s: Storage) => Storage, options?: Pick<ClientOptions, 'clockSync'>): Promise<Client>;
  /** A started worker on `c` with the suite's workflows and fast sweeps (stopped after the test). */
  worker(c: Client, options?: Partial<WorkerOptions>): Promise<Worker>;
  /** A client and a started worker on it. */
  setup(options?: Partial<WorkerOptions>): Promise<{ c: Client; w: Worker }>;
  /** The suite's fast worker settings. */
  fast: Partial<WorkerOptions>;
  /** What the backends under test declared they offer (the rest: full conformance). */
  capabilities: Readonly<Capabilities>;
}
