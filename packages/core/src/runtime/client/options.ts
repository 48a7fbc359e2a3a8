/**
 * The options a client takes: of the client itself (`new Client(...)`, `createClient`), of a start,
 * and of an update-with-start.
 */
import type { Broker, Duration, Limits, Logger, PayloadCodec, Storage } from '@durably/contracts';
import type { WorkerConfig } from '../../config/types.js';
import type { Instrumentation } from '../../observe/instrumentation.js';
import type { UpdateDefinition } from '../../engine/update-definition.js';
import type { ClockSyncOptions } from './clock-sync.js';
import type { UpdateCallOptions } from './updates.js';

/** Options of `startWith(workflow, args, options)` and `client.startWith(...)`. */
export interface StartOptions {
  /**
   * A second start of the same workflow with the same key returns the first run instead of starting
   * another (keys are unique per workflow). If that run was started with other arguments, the handle
   * says so (`argsDiffer`) and a warning is logged.
   */
  idempotencyKey?: string;
  /** Start no earlier than this long from now. */
  delay?: Duration;
  /** Start no earlier than this time. */
  startAt?: Date;
  /** Queue of the run's workflow tasks (default: the workflow's queue). */
  queue?: string;
  /**
   * Use this run id instead of a generated one. A start with the id of an existing run of the same
   * workflow and arguments returns that run (a start retried after a timeout, say); with another
   * workflow or other arguments it throws RunIdInUseError.
   */
  runId?: string;
  /** `false`: run in this process without storing anything (transient mode). */
  durable?: boolean;
  /** Labels for this run, added to the workflow's; filter with listRuns({ tags }). */
  tags?: string[];
}

/**
 * Options of `new Client(...)`: a storage and a broker instance, and the client's limits, logger and
 * hooks. `createClient({ storage: 'postgres://...' })` and `connect()` build one from URLs or the config.
 */
export interface ClientOptions {
  /** Where runs are stored. */
  storage: Storage;
  /** Where tasks are published. */
  broker: Broker;
  /** Payload size and event count limits (defaults: 1 MiB, warn at 10,000 events, fail at 50,000). */
  limits?: Partial<Limits>;
  /**
   * The engine's clock, taken as it is (no synchronisation with the storage); tests replace it to
   * skip time. Default: the machine's clock following the storage's (see `clockSync`).
   */
  clock?: () => number;
  /**
   * Without a `clock` option, the engine's time follows the storage's clock (`Storage.serverTime`:
   * Postgres, Redis; the embedded storages share the machine's): its offset from the machine's
   * clock is measured when the client connects and every `interval` after, and a machine clock
   * further off than `warnAbove` is logged. `false` runs on the machine's clock alone. A storage
   * with no clock of its own (DynamoDB) runs on the machine's clock, which must be kept in sync (NTP).
   */
  clockSync?: ClockSyncOptions | false;
  /** Defaults for workers created on this client (the config file's `worker`); the worker's own options win. */
  worker?: WorkerConfig;
  /** Your own hooks (the client calls `runStart` when it creates a run); OpenTelemetry spans are added when its API is installed. */
  instrumentation?: Instrumentation;
  /** @internal Settings known once the config is loaded (createClient): applied by ensureReady. */
  deferred?: () => Promise<Pick<ClientOptions, 'limits' | 'worker' | 'addresses' | 'codec'>>;
  /** Where the client logs (a reused idempotency key, waits for a backend). Default: createLogger(). */
  logger?: Logger;
  /**
   * How long the first use of the client (ensureReady: worker.start(), the first start()...) keeps
   * trying to reach a storage or broker that is down, with exponential backoff, logging each wait.
   * 0 fails at once. Default 60s.
   */
  connectTimeout?: Duration;
  /** The URLs the backends were made from (passwords hidden), for log lines. */
  addresses?: { storage?: string; broker?: string };
  /**
   * Encrypts payloads at rest with this codec (`aesGcmCodec({ keys, current })`): the client wraps
   * `storage` with `encryptStorage`, and encrypts the arguments that dispatched step tasks carry
   * through the broker. Workers made on the client use it. See docs/guides/encryption.md.
   */
  codec?: PayloadCodec;
}

/** Options of `client.updateWithStart(workflow, args, options)`: the start's, with the key required, and the update's. */
export interface UpdateWithStartOptions<T, R> extends StartOptions, UpdateCallOptions {
  /** Finds the run to update; when no run of the workflow has it, the run started with this key. */
  idempotencyKey: string;
  /** The update to send, once the run exists. */
  update: UpdateDefinition<T, R> | string;
  /** Its payload. */
  payload: T;
}
