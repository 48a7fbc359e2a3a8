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
import type { DurablyConfig, ResolvedConfig, Setting } from './types.js';
import { hidePassword, resolveConfig, type ResolveOptions } from './resolve.js';
import { findConfigFile, loadConfigFromFile } from './load.js';
import { nearest } from './nearest.js';

/**
 * From a URL to a storage or broker: the built-in backends (memory:, file:, local:) and the adapter
 * packages, imported only when their scheme is used.
 */

const STORAGE_SCHEMES: Record<string, string> = {
  'memory:': '@durably/local',
  'file:': '@durably/local',
  'postgres:': '@durably/postgres',
  'postgresql:': '@durably/postgres',
  'redis:': '@durably/redis',
  'rediss:': '@durably/redis',
  'redis+cluster:': '@durably/redis',
  'rediss+cluster:': '@durably/redis',
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
  'redis+cluster:': '@durably/redis',
  'rediss+cluster:': '@durably/redis',
  'amqp:': '@durably/rabbitmq',
  'amqps:': '@durably/rabbitmq',
  'sqs:': '@durably/aws',
};

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

