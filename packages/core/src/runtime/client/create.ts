import type { Broker, Duration, Logger, PayloadCodec, Storage } from '@durably/contracts';
import { codecFromEnv } from '../../codec/env.js';
import { encryptStorage } from '../../codec/encrypt-storage.js';
import type { ResolvedConfig, Setting } from '../../config/types.js';
import { resolveConfig } from '../../config/resolve.js';
import { brokerFromUrl, describeBackend, fromSetting, openBackends, storageFromUrl } from '../../config/adapters.js';
import { Client } from './client.js';
import { LazyBroker, LazyStorage } from './lazy.js';
import type { DurablyConfig } from '../../config/types.js';

/** Options of connect() and createClient() besides the backends. */
export interface ClientSetup {
  /** See DurablyConfig.connectTimeout. */
  connectTimeout?: Duration;
  /** Where the client logs (a reused idempotency key, waits for a backend). Default: createLogger(). */
  logger?: Logger;
  /** The clock; tests can replace it. */
  clock?: () => number;
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
    codec: resolved.codec?.value,
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
export function createClient(options: { storage?: string | Storage; broker?: string | Broker; codec?: PayloadCodec } & ClientSetup = {}): Client {
  let resolving: Promise<ResolvedConfig> | undefined;
  const settings = () => (resolving ??= resolveConfig({ storage: options.storage, broker: options.broker, connectTimeout: options.connectTimeout, codec: options.codec }, { optionOrigin: 'createClient()' }));
  // A codec known now (given, or from the environment) is applied by the client; one that only the
  // config file names wraps the storage once the file is read.
  const codec = options.codec ?? codecFromEnv();
  const storage =
    typeof options.storage === 'object'
      ? options.storage
      : new LazyStorage(async () => {
          const resolved = await settings();
          const s = typeof resolved.storage.value === 'string' ? await fromSetting(resolved.storage as Setting<string>, storageFromUrl) : resolved.storage.value;
          return !codec && resolved.codec ? encryptStorage(s, resolved.codec.value) : s;
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
    codec,
    deferred: async () => {
      const resolved = await settings();
      return { limits: resolved.limits, worker: resolved.worker, addresses: addressesOf(resolved), codec: typeof options.storage === 'object' ? undefined : resolved.codec?.value };
    },
  });
}

