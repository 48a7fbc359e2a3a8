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

/** Worker options that a config file can set; options given in code or on the command line win. */
export interface WorkerConfig {
  concurrency?: number;
  queues?: string[];
  stepMode?: 'inline' | 'dispatch';
  visibilityTimeout?: Duration;
  stepLease?: Duration;
  staleAfter?: Duration;
  recoveryInterval?: Duration;
  timerSweepInterval?: Duration;
  localTimerWindow?: Duration;
  inlineRetryMax?: Duration;
  cacheSize?: number;
  scheduler?: boolean;
  scheduleInterval?: Duration;
  retention?: Duration;
  /** The operations HTTP port (health, readiness, Prometheus metrics). Off unless set. */
  http?: HttpOptions;
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
