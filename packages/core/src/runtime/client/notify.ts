import { EventEmitter } from 'node:events';
import type { Storage } from '@durably/contracts';

/**
 * In-process notice that a run finished, so `result()` in the same process as the worker returns at
 * once instead of at its next poll. Keyed by storage instance: only a client and a worker sharing one
 * storage object share notices; other processes poll.
 */
const emitters = new WeakMap<Storage, EventEmitter>();

function emitterFor(storage: Storage): EventEmitter {
  let emitter = emitters.get(storage);
  if (!emitter) {
    emitter = new EventEmitter();
    emitter.setMaxListeners(0);
    emitters.set(storage, emitter);
  }
  return emitter;
}

export function onRunFinished(storage: Storage, runId: string, listener: () => void): () => void {
  const emitter = emitterFor(storage);
  emitter.on(runId, listener);
  return () => emitter.off(runId, listener);
}

/**
 * Subscribes once per storage object to the storage's own notices of finished runs (other
 * processes' runs), feeding the same emitter. Resolves true when the storage offers them.
 */
const remote = new WeakMap<Storage, Promise<boolean>>();

export function listenForRemoteFinishes(storage: Storage): Promise<boolean> {
  let listening = remote.get(storage);
  if (!listening) {
    listening = storage.subscribeFinished
      ? storage.subscribeFinished((runId) => notifyRunFinished(storage, runId)).then(
          () => true,
          () => {
            remote.delete(storage); // try again on the next result()
            return false;
          },
        )
      : Promise.resolve(false);
    remote.set(storage, listening);
  }
  return listening;
}

export function notifyRunFinished(storage: Storage, runId: string): void {
  emitters.get(storage)?.emit(runId);
}

/**
 * In-process notice that a worker sharing this storage object stopped advancing a run (it
 * suspended, finished or left it): what it appended is durable. An update's caller in the same
 * process reads the run's log at once instead of at its next poll; other processes poll.
 */
export function onRunProgress(storage: Storage, runId: string, listener: () => void): () => void {
  const emitter = emitterFor(storage);
  const key = `progress:${runId}`;
  emitter.on(key, listener);
  return () => emitter.off(key, listener);
}

export function notifyRunProgress(storage: Storage, runId: string): void {
  emitters.get(storage)?.emit(`progress:${runId}`);
}
