import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Broker } from './broker/broker.js';
import { Client, type RunHandle, type StartOptions } from './client/client.js';
import type { Workflow } from './definitions.js';
import { AdapterNotInstalledError, ConfigError, UnknownSchemeError, redactUrl } from './errors.js';
import type { Duration } from './duration.js';
import type { Logger } from './logger.js';
import type { RunFilter, RunPage, Storage } from './storage/storage.js';
import { Worker, type WorkerOptions } from './worker/worker.js';
import { LazyBroker, LazyStorage } from './client/lazy.js';
import type { ScheduleOptions } from './schedules.js';
import type { ScheduleRecord } from './storage/storage.js';
import { MemoryStorage } from './backends/memory/storage.js';
import { MemoryBroker } from './backends/memory/broker.js';

/** What an adapter package exports so that a URL can select it: `export const durablyAdapter = { ... }`. */
export interface AdapterModule {
  storage?(url: string): Storage | Promise<Storage>;
  broker?(url: string): Broker | Promise<Broker>;
}

export interface DurablyConfig {
  /** Storage URL (memory:, file:./.durably, postgres://, redis://, dynamodb://) or an adapter instance. */
  storage?: string | Storage;
  /** Broker URL (local:, memory:, postgres://, redis://, amqp://, sqs://) or an adapter instance. */
  broker?: string | Broker;
  /** Module paths or globs of workflow files, for the CLI worker. */
  workflows?: string[];
  /**
   * How long the client keeps trying to reach a storage or broker that is down when first used
   * (worker.start(), the first start()), with exponential backoff up to 5 s between tries, logging
   * each wait. 0 fails at once. Default 60s.
   */
  connectTimeout?: Duration;
}

/** Options of connect() and createClient() besides the backends. */
export interface ClientSetup {
  /** See DurablyConfig.connectTimeout. */
  connectTimeout?: Duration;
  /** Where the client logs (a reused idempotency key, waits for a backend). Default: createLogger(). */
  logger?: Logger;
  /** The clock; tests can replace it. */
  clock?: () => number;
}

export const DEFAULT_STORAGE_URL = 'file:./.durably';
export const DEFAULT_BROKER_URL = 'local:';

const STORAGE_SCHEMES: Record<string, string | null> = {
  'memory:': null,
  'file:': null,
  'postgres:': '@durably/postgres',
  'postgresql:': '@durably/postgres',
  'redis:': '@durably/redis',
  'rediss:': '@durably/redis',
  'dynamodb:': '@durably/aws',
};
const BROKER_SCHEMES: Record<string, string | null> = {
  'memory:': null,
  'local:': null,
  'file:': null,
  'postgres:': '@durably/postgres',
  'postgresql:': '@durably/postgres',
  'redis:': '@durably/redis',
  'rediss:': '@durably/redis',
  'amqp:': '@durably/rabbitmq',
  'amqps:': '@durably/rabbitmq',
  'sqs:': '@durably/aws',
};

/** Identity function that types a config file's default export. */
export function defineConfig(config: DurablyConfig): DurablyConfig {
  return config;
}

/**
 * `memory:` URLs name process-wide in-memory backends (`memory:` and `memory:name`), so a client and
 * a worker configured by URL in one process share them. Part of the config state, like the default client.
 */
const memoryStorages = new Map<string, MemoryStorage>();
const memoryBrokers = new Map<string, MemoryBroker>();

function schemeOf(url: string, kind: 'storage' | 'broker', known: Record<string, string | null>): string {
  const match = /^([a-z][a-z0-9+.-]*:)/i.exec(url);
  const scheme = match ? match[1].toLowerCase() : '';
  if (!(scheme in known)) {
    const names = Object.keys(known);
    const guess = closest(scheme || url, names);
    throw new UnknownSchemeError(
      `Unknown ${kind} scheme ${JSON.stringify(scheme || url)} in "${redactUrl(url)}". Known: ${names.join(', ')}.` + (guess ? ` Did you mean "${guess}"?` : ''),
    );
  }
  return scheme;
}

function localPath(url: string): string {
  // file:./dir, file:dir, file:///abs/dir, local:./dir
  const rest = url.replace(/^(file|local):(\/\/)?/i, '');
  return resolve(rest || './.durably');
}

async function loadAdapter(pkg: string, url: string): Promise<AdapterModule> {
  let mod: { durablyAdapter?: AdapterModule };
  try {
    mod = (await import(pkg)) as { durablyAdapter?: AdapterModule };
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') throw new AdapterNotInstalledError(pkg, url, err);
    throw err;
  }
  if (!mod.durablyAdapter) throw new ConfigError(`The package ${pkg} does not export "durablyAdapter"; is it a Durably adapter of a compatible version?`);
  return mod.durablyAdapter;
}

/** Creates the storage a URL names. Adapter packages are imported only when their scheme is used. */
export async function storageFromUrl(url: string): Promise<Storage> {
  const scheme = schemeOf(url, 'storage', STORAGE_SCHEMES);
  if (scheme === 'memory:') {
    let s = memoryStorages.get(url);
    if (!s) memoryStorages.set(url, (s = new MemoryStorage()));
    return s;
  }
  if (scheme === 'file:') {
    // Loaded on use, so that processes on other backends never load the native SQLite addon.
    const { LocalStorage } = await import('./backends/local/storage.js');
    return new LocalStorage({ path: localPath(url) });
  }
  const adapter = await loadAdapter(STORAGE_SCHEMES[scheme]!, url);
  if (!adapter.storage) throw new ConfigError(`${STORAGE_SCHEMES[scheme]} provides no storage for "${redactUrl(url)}".`);
  return adapter.storage(url);
}

/** Creates the broker a URL names. `local:` shares the directory of a `file:` storage when given. */
export async function brokerFromUrl(url: string, storageUrl?: string): Promise<Broker> {
  const scheme = schemeOf(url, 'broker', BROKER_SCHEMES);
  if (scheme === 'memory:') {
    let b = memoryBrokers.get(url);
    if (!b) memoryBrokers.set(url, (b = new MemoryBroker()));
    return b;
  }
  if (scheme === 'local:' || scheme === 'file:') {
    const explicit = url.replace(/^(local|file):(\/\/)?/i, '');
    const path = explicit ? localPath(url) : storageUrl && /^file:/i.test(storageUrl) ? localPath(storageUrl) : localPath(DEFAULT_STORAGE_URL);
    const { LocalBroker } = await import('./backends/local/broker.js');
    return new LocalBroker({ path });
  }
  const adapter = await loadAdapter(BROKER_SCHEMES[scheme]!, url);
  if (!adapter.broker) throw new ConfigError(`${BROKER_SCHEMES[scheme]} provides no broker for "${redactUrl(url)}".`);
  return adapter.broker(url);
}

/** Reads durably.config.{json,mjs,js,ts} from `cwd` when present (a .ts file needs a TS-aware runtime such as tsx). */
export async function loadConfigFile(cwd = process.cwd()): Promise<DurablyConfig> {
  for (const name of ['durably.config.json', 'durably.config.mjs', 'durably.config.js', 'durably.config.ts']) {
    const file = resolve(cwd, name);
    if (!existsSync(file)) continue;
    try {
      if (name.endsWith('.json')) {
        const { readFile } = await import('node:fs/promises');
        return JSON.parse(await readFile(file, 'utf8')) as DurablyConfig;
      }
      const mod = (await import(pathToFileURL(file).href)) as { default?: DurablyConfig };
      return mod.default ?? {};
    } catch (err) {
      throw new ConfigError(`Cannot load ${file}: ${(err as Error).message}`, { cause: err });
    }
  }
  return {};
}

/**
 * The storage and broker to use: explicit values, then DURABLY_STORAGE / DURABLY_BROKER, then the
 * config file, then the embedded default (file:./.durably with the local broker).
 */
export async function resolveBackends(config: DurablyConfig = {}): Promise<{ storage: Storage; broker: Broker }> {
  const { storage, broker } = await resolveSpecs(config);
  const s = typeof storage === 'string' ? await storageFromUrl(storage) : storage;
  const b = typeof broker === 'string' ? await brokerFromUrl(broker, typeof storage === 'string' ? storage : undefined) : broker;
  return { storage: s, broker: b };
}

/** Explicit values, then the environment, then the config file (read only when it is needed), then the defaults. */
async function resolveSpecs(config: DurablyConfig, options: { timeoutFromFile?: boolean } = {}): Promise<{ storage: string | Storage; broker: string | Broker; file: DurablyConfig }> {
  const needFile =
    (config.storage ?? process.env.DURABLY_STORAGE) === undefined ||
    (config.broker ?? process.env.DURABLY_BROKER) === undefined ||
    (options.timeoutFromFile === true && config.connectTimeout === undefined);
  const file = needFile ? await loadConfigFile() : {};
  return {
    storage: config.storage ?? process.env.DURABLY_STORAGE ?? file.storage ?? DEFAULT_STORAGE_URL,
    broker: config.broker ?? process.env.DURABLY_BROKER ?? file.broker ?? DEFAULT_BROKER_URL,
    file,
  };
}

function addressesOf(storage: string | Storage, broker: string | Broker): { storage?: string; broker?: string } {
  return { storage: typeof storage === 'string' ? redactUrl(storage) : undefined, broker: typeof broker === 'string' ? redactUrl(broker) : undefined };
}

/**
 * Creates a client from URLs or adapter instances (missing ones come from env, config file or the
 * default) and reaches its backends: a backend that is down is tried again with backoff for up to
 * `connectTimeout` (default 60 s), each wait logged.
 */
export async function connect(config: DurablyConfig & ClientSetup = {}): Promise<Client> {
  const specs = await resolveSpecs(config, { timeoutFromFile: true });
  const { storage, broker } = await resolveBackends({ storage: specs.storage, broker: specs.broker });
  const client = new Client({
    storage,
    broker,
    logger: config.logger,
    clock: config.clock,
    connectTimeout: config.connectTimeout ?? specs.file.connectTimeout,
    addresses: addressesOf(specs.storage, specs.broker),
  });
  await client.ensureReady();
  return client;
}

/**
 * Creates a client synchronously from URLs or adapter instances; adapters named by URL are loaded on
 * first use. Values left out come from DURABLY_STORAGE / DURABLY_BROKER, then durably.config.*, then
 * the embedded default.
 */
export function createClient(options: { storage?: string | Storage; broker?: string | Broker } & ClientSetup = {}): Client {
  let specs: Promise<{ storage: string | Storage; broker: string | Broker }> | undefined;
  const getSpecs = () => (specs ??= resolveSpecs({ storage: options.storage, broker: options.broker }));
  const storage =
    typeof options.storage === 'object'
      ? options.storage
      : new LazyStorage(async () => {
          const { storage: spec } = await getSpecs();
          return typeof spec === 'string' ? storageFromUrl(spec) : spec;
        });
  const broker =
    typeof options.broker === 'object'
      ? options.broker
      : new LazyBroker(async () => {
          const { storage: s, broker: spec } = await getSpecs();
          return typeof spec === 'string' ? brokerFromUrl(spec, typeof s === 'string' ? s : undefined) : spec;
        });
  const known = (options.storage ?? process.env.DURABLY_STORAGE) !== undefined && (options.broker ?? process.env.DURABLY_BROKER) !== undefined;
  return new Client({
    storage,
    broker,
    clock: options.clock,
    logger: options.logger,
    connectTimeout: options.connectTimeout,
    addresses: known ? addressesOf(options.storage ?? process.env.DURABLY_STORAGE!, options.broker ?? process.env.DURABLY_BROKER!) : {},
  });
}

let defaultClient: Client | undefined;

/** Sets the default client used by start(), getRun(), listRuns(), cancel() and createWorker() without a client. */
export function configure(config: DurablyConfig | Client): Client {
  defaultClient = config instanceof Client ? config : createClient({ storage: config.storage, broker: config.broker, connectTimeout: config.connectTimeout });
  return defaultClient;
}

/** The default client: the one configure() set, or one from env, config file and defaults. */
export function getDefaultClient(): Client {
  defaultClient ??= createClient();
  return defaultClient;
}

/** Starts a run on the default client. */
export function start<A extends unknown[], R>(wf: Workflow<A, R>, ...args: A): Promise<RunHandle<Awaited<R>>> {
  return getDefaultClient().start(wf, ...args);
}

/** Starts a run with options (idempotencyKey, delay, startAt, queue, runId) on the default client. */
export function startWith<A extends unknown[], R>(wf: Workflow<A, R>, args: A, options: StartOptions): Promise<RunHandle<Awaited<R>>> {
  return getDefaultClient().startWith(wf, args, options);
}

/** A handle to a run of the default client (nothing is read until you call one of its methods). */
export function getRun<R = unknown>(runId: string): RunHandle<R> {
  return getDefaultClient().getRun<R>(runId);
}

export function listRuns(filter: RunFilter = {}): Promise<RunPage> {
  return getDefaultClient().listRuns(filter);
}

export function cancel(runId: string, reason?: string): Promise<void> {
  return getDefaultClient().cancel(runId, reason);
}

/** Creates or replaces a schedule on the default client: cron (with time zone) or a fixed interval. */
export function schedule<A extends unknown[]>(scheduleId: string, wf: Workflow<A, unknown>, options: ScheduleOptions<A>): Promise<ScheduleRecord> {
  return getDefaultClient().schedules.create(scheduleId, wf, options);
}

/** Resumes a hook by its token, on the default client. */
export function resumeHook(token: string, payload?: unknown): Promise<{ runId: string }> {
  return getDefaultClient().resumeHook(token, payload);
}

/** Sends a signal to a run, on the default client. */
export function sendSignal(runId: string, name: string, payload?: unknown): Promise<void> {
  return getDefaultClient().sendSignal(runId, name, payload);
}

/** Creates a worker; without `client` it uses the default client. Call `start()` on it. */
export function createWorker(options: WorkerOptions): Worker {
  return new Worker(options.client ?? getDefaultClient(), options);
}

function closest(input: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestScore = Infinity;
  for (const c of candidates) {
    const d = levenshtein(input.toLowerCase(), c);
    if (d < bestScore) {
      bestScore = d;
      best = c;
    }
  }
  return bestScore <= 3 ? best : undefined;
}

function levenshtein(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length];
}
