import type { Broker, Duration, Limits, LogLevel, PayloadCodec, Storage } from '@durably/contracts';

/**
 * What `durably.config.ts|js|json` exports (with `defineConfig`), and what `connect()` takes.
 * Every key is checked: an unknown key or a value of the wrong type is a `ConfigError` naming the
 * key, what it expects and, for a misspelling, the nearest known key.
 */
export interface DurablyConfig {
  /** Storage URL (memory:, file:./.durably, postgres://, redis://, dynamodb://) or an adapter instance. */
  storage?: string | Storage;
  /** Broker URL (local:, memory:, postgres://, redis://, amqp://, sqs://) or an adapter instance. */
  broker?: string | Broker;
  /** Module paths or globs of workflow files, for `durably worker` (relative to the config file). */
  workflows?: string | string[];
  /** Payload size and event count limits of clients made from this config. */
  limits?: Partial<Limits>;
  /** Defaults for workers made from this config (`durably worker`, `createWorker` on such a client). */
  worker?: WorkerConfig;
  /** Log level of the CLI and of default loggers; `DURABLY_LOG_LEVEL` overrides it. */
  logLevel?: LogLevel;
  /**
   * How long the client keeps trying to reach a storage or broker that is down when first used
   * (worker.start(), the first start()), with exponential backoff up to 5 s between tries, logging
   * each wait. 0 fails at once. Default 60s.
   */
  connectTimeout?: Duration;
  /**
   * Encrypts payloads at rest (arguments, results, errors, hook and signal payloads, tokens in
   * events, checkpoints, schedule arguments): `aesGcmCodec({ keys, current })`. A codec given in
   * code wins, then `DURABLY_ENCRYPTION_KEYS` / `DURABLY_ENCRYPTION_KEY_ID`, then the config file's.
   * See docs/guides/encryption.md.
   */
  codec?: PayloadCodec;
}

/**
 * How a worker runs: how many tasks at once, which queues, and the timings of leases, recovery and
 * timers. Set in code (`createWorker`), in a config file (`worker: { ... }`) or on the command line;
 * durations are ms or strings such as `'30s'`.
 */
export interface WorkerTuning {
  /** Most tasks (runs and dispatched steps) handled at once per queue. Default 10. */
  concurrency?: number;
  /** Queues to consume. Default ["default"]. Steps with another `queue` are dispatched to workers on it. */
  queues?: string[];
  /**
   * "inline" (default): steps run in the workflow's worker, one storage write per step.
   * "dispatch": every step is a broker task, spreading steps over all workers.
   */
  stepMode?: 'inline' | 'dispatch';
  /** Broker visibility timeout: a dead worker's task comes back after this. Default 30s. */
  visibilityTimeout?: Duration;
  /**
   * Lease of a running step attempt. The worker renews it while the body runs (every third of it, at
   * most every second); another worker that finds the attempt under a live lease leaves it alone,
   * and once it lapses (the worker died) the run is taken over, the attempt run again. So a run whose
   * worker was killed mid-step resumes about `stepLease` + 3 s after the kill. A step body that blocks
   * the event loop for longer than this may be run a second time elsewhere. Default 5s.
   */
  stepLease?: Duration;
  /** A pending or running run with no progress for this long is resumed elsewhere. Default 60s. */
  staleAfter?: Duration;
  /** How often to look for stuck runs. Default 10s. */
  recoveryInterval?: Duration;
  /** How often to look in storage for overdue timers whose wake-up message was lost. Default 1s. */
  timerSweepInterval?: Duration;
  /**
   * How long past its due time the timer sweep leaves a timer to its wake-up (a local timer or a
   * broker message) before it wakes the run itself. A lost wake-up is fired at most this plus one
   * `timerSweepInterval` late; a shorter grace wakes some runs twice (harmless, but a write and a
   * message more). Default 2s; 0: as soon as a sweep sees it due.
   */
  timerSweepGrace?: Duration;
  /**
   * Timers (sleeps, timeouts) due within this window are held by a worker and fired at their time
   * without a broker round trip: those it writes, and those the broker brings. A later one gets a
   * broker message sent to arrive one window early, and the worker that receives it holds it, so it
   * fires on time whatever the broker's delay precision. Either way the timer in storage is the
   * truth: if this worker dies, the timer sweep wakes the run. 0 turns it off (every wake-up is a
   * delayed message, as late as the broker's delays). Default 60s.
   */
  localTimerWindow?: Duration;
  /** Retry delays up to this are waited in-process; longer ones suspend the run. Default 5s. */
  inlineRetryMax?: Duration;
  /** Suspended executions kept in memory while they wait on dispatched steps or on a wake-up due within localTimerWindow (resumed without a replay). Default 1,000. */
  cacheSize?: number;
  /** Opt-in operations endpoint: GET /healthz, /readyz and /metrics (Prometheus) on this port. */
  http?: HttpOptions;
  /** Run the scheduler in this worker (fires due schedule slots). Default true. */
  scheduler?: boolean;
  /** How often the scheduler looks for due slots. Default 1s. */
  scheduleInterval?: Duration;
  /** Delete finished runs older than this (checked every recoveryInterval). Default: keep forever. */
  retention?: Duration;
}

/** Worker options that a config file can set; options given in code or on the command line win. */
export interface WorkerConfig extends WorkerTuning {
  /** How long `durably worker` lets work in hand finish after SIGTERM before handing it back. Default 10s. */
  shutdownGrace?: Duration;
}

/** The worker's operations endpoint: `/healthz`, `/readyz`, `/metrics`. */
export interface HttpOptions {
  /** TCP port; 0 picks a free one (see `worker.httpAddress`). */
  port: number;
  /** Interface to bind. Default 127.0.0.1. */
  host?: string;
}

/** Where a setting's value came from, for messages and `durably doctor`. */
export type SettingSource = 'option' | 'env' | 'file' | 'default';

/**
 * A resolved setting: its value and where it came from (an option, the environment, the config
 * file, or the default), so messages and `durably doctor` can say which one won.
 */
export interface Setting<T> {
  /** The value in effect. */
  value: T;
  /** Which layer it came from. */
  source: SettingSource;
  /** What set it: the option or flag, the variable name, or the config file's path. */
  origin: string;
}

/** A config after discovery, loading, validation and environment overrides. */
export interface ResolvedConfig {
  /** Absolute path of the config file used, if any. */
  file?: string;
  storage: Setting<string | Storage>;
  broker: Setting<string | Broker>;
  /** Absolute module paths or globs. */
  workflows: string[];
  limits: Partial<Limits>;
  worker: WorkerConfig;
  logLevel?: Setting<LogLevel>;
  /** From the options, else the config file; undefined: the client's default (60s). */
  connectTimeout?: Duration;
  /** The payload codec in effect (an option, DURABLY_ENCRYPTION_KEYS, or the config file), if any. */
  codec?: Setting<PayloadCodec>;
  /** Things that work but are probably not meant (a misspelled DURABLY_ variable, say). */
  warnings: string[];
}
