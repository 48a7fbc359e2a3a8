import {
  type AdapterModule,
  type Broker,
  AdapterNotInstalledError,
  ConfigError,
  DurablyError,
  UnknownSchemeError,
  redactUrl,
  type Duration,
  type Logger,
  type RunFilter,
  type RunPage,
  type Storage,
  type ScheduleRecord,
} from '@durably/contracts';
import { Client, type RunHandle, type StartOptions } from './client/client.js';
import type { Workflow } from './definitions.js';
import { Worker, type WorkerOptions } from './worker/worker.js';
import { LazyBroker, LazyStorage } from './client/lazy.js';
import type { ScheduleOptions } from './schedules.js';
import type { DurablyConfig, ResolvedConfig, Setting } from './config/types.js';
import { DEFAULT_STORAGE_URL, hidePassword, resolveConfig, type ResolveOptions } from './config/resolve.js';
import { findConfigFile, loadConfigFromFile } from './config/load.js';
import { nearest } from './config/nearest.js';

export type { DurablyConfig } from './config/types.js';
export { DEFAULT_STORAGE_URL, DEFAULT_BROKER_URL } from './config/resolve.js';

/** Options of connect() and createClient() besides the backends. */
export interface ClientSetup {
  /** See DurablyConfig.connectTimeout. */
  connectTimeout?: Duration;
  /** Where the client logs (a reused idempotency key, waits for a backend). Default: createLogger(). */
  logger?: Logger;
  /** The clock; tests can replace it. */
  clock?: () => number;
}

const STORAGE_SCHEMES: Record<string, string> = {
  'memory:': '@durably/local',
  'file:': '@durably/local',
  'postgres:': '@durably/postgres',
  'postgresql:': '@durably/postgres',
  'redis:': '@durably/redis',
  'rediss:': '@durably/redis',
  'dynamodb:': '@durably/aws',
};
const BROKER_SCHEMES: Record<string, string> = {
  'memory:': '@durably/local',
  'local:': '@durably/local',
  'file:': '@durably/local',
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

function schemeOf(url: string, kind: 'storage' | 'broker', known: Record<string, string>): string {
  const match = /^([a-z][a-z0-9+.-]*:)/i.exec(url);
  const scheme = match ? match[1].toLowerCase() : '';
  if (!(scheme in known)) {
    const names = Object.keys(known);
    const guess = nearest(scheme || url, names);
    throw new UnknownSchemeError(
      `Unknown ${kind} scheme ${JSON.stringify(scheme || url)} in "${redactUrl(url)}". Known: ${names.join(', ')}.` + (guess ? ` Did you mean "${guess}"?` : ''),
    );
  }
  return scheme;
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

/**
 * The adapter package a storage URL needs and its module (`memory:` and `file:` are @durably/local's,
 * a dependency of this package). Throws UnknownSchemeError or AdapterNotInstalledError like storageFromUrl.
 */
export async function storageAdapterFor(url: string): Promise<{ packageName: string; adapter: AdapterModule } | undefined> {
  const pkg = STORAGE_SCHEMES[schemeOf(url, 'storage', STORAGE_SCHEMES)];
  return { packageName: pkg, adapter: await loadAdapter(pkg, url) };
}

/**
 * Creates the storage a URL names. Adapter packages are imported only when their scheme is used (so a
 * process on server backends never loads SQLite; @durably/local loads its SQLite library on first open).
 */
export async function storageFromUrl(url: string): Promise<Storage> {
  const pkg = STORAGE_SCHEMES[schemeOf(url, 'storage', STORAGE_SCHEMES)];
  const adapter = await loadAdapter(pkg, url);
  if (!adapter.storage) throw new ConfigError(`${pkg} provides no storage for "${redactUrl(url)}".`);
  return adapter.storage(url);
}

/** Creates the broker a URL names. `local:` shares the directory of a `file:` storage when given. */
export async function brokerFromUrl(url: string, storageUrl?: string): Promise<Broker> {
  const pkg = BROKER_SCHEMES[schemeOf(url, 'broker', BROKER_SCHEMES)];
  const adapter = await loadAdapter(pkg, url);
  if (!adapter.broker) throw new ConfigError(`${pkg} provides no broker for "${redactUrl(url)}".`);
  return adapter.broker(url, { storageUrl });
}

/** Reads and checks the nearest durably.config.* from `cwd` up; `{}` when there is none. */
export async function loadConfigFile(cwd = process.cwd()): Promise<DurablyConfig> {
  const file = findConfigFile(cwd);
  return file ? (await loadConfigFromFile(file)).config : {};
}

/** Opens the storage and broker that resolved settings name, saying where a failing URL was set. */
export async function openBackends(resolved: Pick<ResolvedConfig, 'storage' | 'broker'>): Promise<{ storage: Storage; broker: Broker }> {
  const storageSpec = resolved.storage.value;
  const brokerSpec = resolved.broker.value;
  const s = typeof storageSpec === 'string' ? await fromSetting(resolved.storage as Setting<string>, storageFromUrl) : storageSpec;
  try {
    const b = typeof brokerSpec === 'string' ? await fromSetting(resolved.broker as Setting<string>, (url) => brokerFromUrl(url, typeof storageSpec === 'string' ? storageSpec : undefined)) : brokerSpec;
    return { storage: s, broker: b };
  } catch (err) {
    await s.close().catch(() => undefined);
    throw err;
  }
}

async function fromSetting<T>(setting: Setting<string>, open: (url: string) => Promise<T>): Promise<T> {
  try {
    return await open(setting.value);
  } catch (err) {
    // The URL's own message plus where it was set: the env, a flag, or which config file.
    if (err instanceof DurablyError && setting.source !== 'default' && !err.message.includes(setting.origin)) err.message += ` (set by ${setting.origin})`;
    throw err;
  }
}

/** How a storage or broker is named in logs: its URL with the password hidden, or its class. */
export function describeBackend(spec: string | Storage | Broker): string {
  return typeof spec === 'string' ? hidePassword(redactUrl(spec)) : `${spec.constructor?.name ?? 'custom'} instance`;
}

/**
 * The storage and broker to use: explicit values, then DURABLY_STORAGE / DURABLY_BROKER, then the
 * config file (the nearest durably.config.* from the working directory up), then the embedded
 * default (file:./.durably with the local broker).
 */
export async function resolveBackends(config: DurablyConfig = {}, options: ResolveOptions = {}): Promise<{ storage: Storage; broker: Broker }> {
  return openBackends(await resolveConfig(config, options));
}

/** Creates a client from resolved settings: backends, limits, worker defaults, connect timeout. */
export async function clientFromConfig(resolved: ResolvedConfig, options: ClientSetup = {}): Promise<Client> {
  const { storage, broker } = await openBackends(resolved);
  return new Client({
    storage,
    broker,
    clock: options.clock,
    logger: options.logger,
    connectTimeout: options.connectTimeout ?? resolved.connectTimeout,
    limits: resolved.limits,
    worker: resolved.worker,
    addresses: addressesOf(resolved),
  });
}

function addressesOf(resolved: Pick<ResolvedConfig, 'storage' | 'broker'>): { storage: string; broker: string } {
  return { storage: describeBackend(resolved.storage.value), broker: describeBackend(resolved.broker.value) };
}

/**
 * Creates a client from URLs or adapter instances; what is left out comes from DURABLY_STORAGE /
 * DURABLY_BROKER, the config file, or the embedded default. The config file's `limits` and
 * `worker` options apply to it and to workers created on it.
 */
export async function connect(config: DurablyConfig & ClientSetup = {}): Promise<Client> {
  const { logger, clock, ...rest } = config;
  const client = await clientFromConfig(await resolveConfig(rest), { logger, clock });
  await client.ensureReady();
  return client;
}

/**
 * Creates a client synchronously from URLs or adapter instances; adapters named by URL are loaded on
 * first use. Values left out come from DURABLY_STORAGE / DURABLY_BROKER, then durably.config.*, then
 * the embedded default; the config file's limits and worker options are applied on first use.
 */
export function createClient(options: { storage?: string | Storage; broker?: string | Broker } & ClientSetup = {}): Client {
  let resolving: Promise<ResolvedConfig> | undefined;
  const settings = () => (resolving ??= resolveConfig({ storage: options.storage, broker: options.broker, connectTimeout: options.connectTimeout }, { optionOrigin: 'createClient()' }));
  const storage =
    typeof options.storage === 'object'
      ? options.storage
      : new LazyStorage(async () => {
          const resolved = await settings();
          return typeof resolved.storage.value === 'string' ? fromSetting(resolved.storage as Setting<string>, storageFromUrl) : resolved.storage.value;
        });
  const broker =
    typeof options.broker === 'object'
      ? options.broker
      : new LazyBroker(async () => {
          const { storage: s, broker: b } = await settings();
          return typeof b.value === 'string' ? fromSetting(b as Setting<string>, (url) => brokerFromUrl(url, typeof s.value === 'string' ? s.value : undefined)) : b.value;
        });
  return new Client({
    storage,
    broker,
    clock: options.clock,
    logger: options.logger,
    connectTimeout: options.connectTimeout,
    deferred: async () => {
      const resolved = await settings();
      return { limits: resolved.limits, worker: resolved.worker, addresses: addressesOf(resolved) };
    },
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
