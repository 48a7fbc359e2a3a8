import { BrokerError, DurablyError, type Broker, type Storage } from '@durably/contracts';

/**
 * Storage and broker that resolve an adapter on first use, so `createClient({ storage: 'postgres://…' })`
 * can stay synchronous while the adapter package is imported lazily.
 *
 * Every method of the contract is forwarded as it is to the loaded instance (a Proxy: a method added
 * to the Storage or Broker contract needs nothing here). Only what cannot wait for the adapter is
 * answered here: `close` (which loads nothing), the broker's `maxDelayMs`, and the optional methods,
 * which callers test for before calling.
 */
class Loaded<T extends { close(): Promise<void> }> {
  instance?: Promise<T>;
  resolved?: T;
  constructor(private readonly load: () => Promise<T>) {}
  get(): Promise<T> {
    this.instance ??= this.load().then((i) => (this.resolved = i));
    return this.instance;
  }
  async close(): Promise<void> {
    if (this.instance) await (await this.instance).close();
  }
}

/** Wraps `target` so that every member not in `own` is an async method forwarded to the loaded instance. */
function forwardAll<T extends { close(): Promise<void> }>(target: object, loaded: Loaded<T>, what: string, own: Record<string, () => unknown>): object {
  return new Proxy(target, {
    get(t, prop, receiver) {
      if (typeof prop !== 'string' || prop === 'then' || prop === 'constructor') return Reflect.get(t, prop, receiver);
      if (Object.hasOwn(own, prop)) return own[prop]();
      return async (...args: unknown[]) => {
        const backend = await loaded.get();
        const method = (backend as Record<string, unknown>)[prop];
        if (typeof method !== 'function') throw new DurablyError(`The ${what} ${backend.constructor?.name ?? ''} has no method "${prop}": is its adapter of a compatible version?`);
        return method.apply(backend, args);
      };
    },
  });
}

export interface LazyStorage extends Storage {}
export class LazyStorage {
  constructor(load: () => Promise<Storage>) {
    const loaded = new Loaded(load);
    return forwardAll(this, loaded, 'storage', {
      close: () => () => loaded.close(),
      // Optional, and unknown until the adapter is loaded: absent (the client polls for finished runs).
      subscribeFinished: () => undefined,
      // Known once the adapter is loaded (the client's clock synchronisation starts after ensureReady loaded it).
      serverTime: () => {
        const storage = loaded.resolved;
        return storage?.serverTime ? () => storage.serverTime!() : undefined;
      },
    }) as LazyStorage;
  }
}

export interface LazyBroker extends Broker {}
export class LazyBroker {
  constructor(load: () => Promise<Broker>) {
    const loaded = new Loaded(load);
    return forwardAll(this, loaded, 'broker', {
      close: () => () => loaded.close(),
      // Known once the adapter is loaded (the client loads it in ensureReady before publishing).
      maxDelayMs: () => loaded.resolved?.maxDelayMs ?? Infinity,
      removeDeadLetter: () => async (queue: string, id: string) => {
        const broker = await loaded.get();
        if (!broker.removeDeadLetter) throw new BrokerError(`The broker ${broker.constructor?.name ?? ''} cannot remove dead letters (it has no removeDeadLetter).`);
        return broker.removeDeadLetter(queue, id);
      },
    }) as LazyBroker;
  }
}
