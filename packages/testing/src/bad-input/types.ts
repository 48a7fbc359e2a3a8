import type { Broker, Client, DurablyError, InvalidUrlError, Storage } from '@durably/core';
import type { SnapshotDiff } from './snapshot.js';

/** An error class a case expects (a class from the contracts' errors.ts). */
export type ErrorClass = abstract new (...args: never[]) => DurablyError;

/** The backend the table runs on, and what a case needs to know of it. */
export interface BadInputBackend {
  /** `memory`, `file`, `postgres`, `redis`...: printed in the table. */
  kind: string;
  /**
   * For server backends: URLs that cannot be parsed, each with the part the error must name, the
   * URL of a closed port (nothing listens there), and a bound on the time until its typed error.
   */
  server?: {
    malformedUrls: Array<{ url: string; part: InvalidUrlError['part'] }>;
    /** URLs whose Durably options (schema, key prefix) try an injection, each with the message it must get. */
    hostileOptionUrls: Array<{ url: string; message: RegExp }>;
    unreachableUrl: string;
    /** The password in `unreachableUrl`, which no message may show. */
    secret: string;
    unreachableBoundMs: number;
  };
}

/** What the table's cases act on: clients and workers on the backends under test, the state they seeded. */
export interface BadInputEnv {
  /** The client with the default limits; its worker consumes WORK_QUEUE. */
  readonly client: Client;
  /** A client with a small event limit (`TIGHT_LIMITS`); its worker consumes TIGHT_QUEUE. */
  readonly tight: Client;
  readonly storage: Storage;
  readonly broker: Broker;
  readonly backend: BadInputBackend;
  /** Runs seeded before the first case, in each of the states a bad input could damage. */
  readonly seeded: SeededRuns;
}

/** The ids (and a hook token) of the runs seeded before the table. */
export interface SeededRuns {
  completed: string;
  failed: string;
  /** Suspended on a hook with a long timeout; `hookToken` resumes it. */
  suspendedOnHook: string;
  hookToken: string;
  /** Suspended on waitForSignal. */
  waitingForSignal: string;
  /** A schedule of the seeded workflow (paused: it never fires during the table). */
  scheduleId: string;
}

/**
 * One row of the table. `act` does the bad thing; it must reject with `errors` (the error and its
 * `cause` chain, outermost first, each an instance of the class given) and a message matching
 * `message` (what was wrong, and how to fix it). A case with `accepted` instead expects the input to
 * be taken (a name the rules allow): `accepted` checks it was stored and read back verbatim.
 *
 * Before `act` and after it, the suite reads the whole state (every run's record, log, timers and
 * hooks, the schedules, the messages published, the dead letters) and compares: with no `effect`
 * nothing may differ; `effect` checks the only change the case allows (a run that fails, a run
 * created with a verbatim key).
 */
export interface BadInputCase<C = any> {
  name: string;
  category: string;
  /** `storage`: the case exercises the storage or the backend itself, so it runs on every backend. */
  scope: 'engine' | 'storage';
  setup?(env: BadInputEnv): Promise<C>;
  act(env: BadInputEnv, ctx: C): Promise<unknown>;
  errors?: ErrorClass[];
  message?: RegExp;
  /** More checks of the error (its fields). */
  inspect?(error: unknown): void;
  /** The message must not contain this (a password). */
  notInMessage?: string;
  accepted?(env: BadInputEnv, ctx: C, result: unknown): Promise<void>;
  effect?(diff: SnapshotDiff, env: BadInputEnv, ctx: C): Promise<void> | void;
  /** The act must end (reject or resolve) within this many ms. */
  boundMs?: number;
  timeoutMs?: number;
}

/** One printed row: the case, the error class (or "accepted") and the time the act took. */
export interface BadInputRow {
  backend: string;
  category: string;
  name: string;
  outcome: string;
  ms: number;
}
