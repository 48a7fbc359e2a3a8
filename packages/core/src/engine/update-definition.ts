import type { PayloadSchema } from './definitions.js';
import { NameRegistry } from '../name-registry.js';

/**
 * What an update is, as the engine and the client see it (the function that makes one,
 * defineUpdate(), is the API one floor up), and the process-wide registry that finds one by name.
 */

/**
 * An update made by `defineUpdate(name, { schema, validate })`: a request the caller sends to a
 * running workflow with `client.update(runId, update, payload)` and whose answer it awaits. `T` is
 * the payload, `R` the handler's answer.
 */
export interface UpdateDefinition<T = unknown, R = unknown> {
  /** The update's name, unique in the process. */
  readonly name: string;
  /** Checks (and parses) the payload in the caller; a failure rejects the update with UpdateRejectedError. */
  readonly schema?: PayloadSchema<T>;
  /**
   * Runs in the caller, on the payload (after `schema`): throw (or reject) to refuse the update,
   * whose UpdateRejectedError carries the error's message. It sees the payload only, never the
   * workflow's state: checks that need the state belong in the handler, whose answer can say no.
   */
  readonly validate?: (payload: T) => void | Promise<void>;
  /**
   * Inside a workflow: answers this update with `handler(payload)`, for every update of this name,
   * in arrival order, starting with those that arrived before it was set. The handler may call
   * steps, sleep and wait; its return value is the caller's answer, and its error fails the update
   * (not the run). Returns the function that removes the handler (later updates are buffered again).
   */
  handle(handler: (payload: T) => R | Promise<R>): () => void;
}

const updateRegistry = new NameRegistry<UpdateDefinition>('update');

/** The update defined with this name in this process, or undefined (`client.update` by name finds its validation so). */
export function getUpdateDefinition(name: string): UpdateDefinition | undefined {
  return updateRegistry.get(name);
}

/** Registers an update definition; a different one under the same name (defined elsewhere) is a DuplicateNameError. */
export function registerUpdate(def: UpdateDefinition<any, any>, identity: unknown): void {
  updateRegistry.register(def.name, identity, def as UpdateDefinition);
}
