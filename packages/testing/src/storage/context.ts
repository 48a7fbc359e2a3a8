import type { DurablyEvent, NewRun, Storage } from '@durably/core';
import type { Capabilities } from '../capabilities.js';

/** What the storage suite gives the files that add tests to it by area. */
export interface StorageSuiteContext {
  /** A new, migrated client on the harness's backend (like another process); closed after the test. */
  connect(): Promise<Storage>;
  /** A run to create: a fresh run id, a strictly increasing createdAt, and its run_created event. */
  newRun(overrides?: Partial<NewRun>): NewRun;
  /** A step_completed event at `seq`, labelled (its name and result) `label`. */
  ev(runId: string, seq: number, label?: string): DurablyEvent;
  /** The seqs of a run's log, in order. */
  seqs(s: Storage, runId: string): Promise<number[]>;
  /** What the backend under test declared it offers (the rest: full conformance). */
  capabilities: Readonly<Capabilities>;
}
