import { EventEmitter } from 'node:events';
import type { Storage } from '../storage/storage.js';

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

export function notifyRunFinished(storage: Storage, runId: string): void {
  emitters.get(storage)?.emit(runId);
}
