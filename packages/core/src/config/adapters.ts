import { resolve } from 'node:path';
import {
  type Broker,
  AdapterNotInstalledError,
  ConfigError,
  DurablyError,
  UnknownSchemeError,
  redactUrl,
  type Storage,
  type AdapterModule,
} from '@durably/contracts';
import { MemoryStorage } from '../backends/memory/storage.js';
import { MemoryBroker } from '../backends/memory/broker.js';
import type { DurablyConfig, ResolvedConfig, Setting } from './types.js';
import { DEFAULT_STORAGE_URL, hidePassword, resolveConfig, type ResolveOptions } from './resolve.js';
import { findConfigFile, loadConfigFromFile } from './load.js';
import { nearest } from './nearest.js';

/**
 * From a URL to a storage or broker: the built-in backends (memory:, file:, local:) and the adapter
 * packages, imported only when their scheme is used.
 */

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
    const guess = nearest(scheme || url, names);
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

/**
 * The adapter package a storage URL needs and its module, or undefined for the built-in backends
 * (memory:, file:). Throws UnknownSchemeError or AdapterNotInstalledError like storageFromUrl.
 */
export async function storageAdapterFor(url: string): Promise<{ packageName: string; adapter: AdapterModule } | undefined> {
  const scheme = schemeOf(url, 'storage', STORAGE_SCHEMES);
  const pkg = STORAGE_SCHEMES[scheme];
  return pkg ? { packageName: pkg, adapter: await loadAdapter(pkg, url) } : undefined;
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
    const { LocalStorage } = await import('../backends/local/storage.js');
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
    const { LocalBroker } = await import('../backends/local/broker.js');
    return new LocalBroker({ path });
  }
  const adapter = await loadAdapter(BROKER_SCHEMES[scheme]!, url);
  if (!adapter.broker) throw new ConfigError(`${BROKER_SCHEMES[scheme]} provides no broker for "${redactUrl(url)}".`);
  return adapter.broker(url);
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

export async function fromSetting<T>(setting: Setting<string>, open: (url: string) => Promise<T>): Promise<T> {
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

