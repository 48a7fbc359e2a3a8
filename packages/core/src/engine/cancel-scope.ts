import type { ScopeCancelledError } from '@durably/contracts';

/**
 * A cancellation scope of workflow code: one made by `cancellable(fn)` (with an id, numbered in the
 * run), or the barrier `shield(fn)` puts between its code and the scopes around it. The calls made
 * inside a scope belong to it (the AsyncLocalStorage scope carries it, see scope.ts); cancelling a
 * scope cancels the calls of the scopes nested in it too, except those inside a shield.
 */
export class CancelScope {
  /** Set when this scope itself was cancelled. */
  cancelled?: ScopeCancelledError;

  constructor(
    /** `scope:<n>` for a cancellable scope; undefined for a shield. */
    readonly id: string | undefined,
    readonly parent: CancelScope | undefined,
    /** A shield: cancellation of the scopes around it does not reach inside it. */
    readonly shield = false,
  ) {}

  /** The cancellation that reaches code in this scope: its own or that of a scope around it, up to the nearest shield. */
  get cancellation(): ScopeCancelledError | undefined {
    for (let s: CancelScope | undefined = this; s; s = s.parent) {
      if (s.cancelled) return s.cancelled;
      if (s.shield) return undefined;
    }
    return undefined;
  }

  /** True when cancelling `target` reaches code in this scope (it is `target` or nested in it, with no shield between). */
  within(target: CancelScope): boolean {
    for (let s: CancelScope | undefined = this; s; s = s.parent) {
      if (s === target) return true;
      if (s.shield) return false;
    }
    return false;
  }
}
