import { DurablyError } from '@durably/core';
import type { DurableInstrumentationPlugin, InvocationInfo, OperationInfo } from '@aws/durable-execution-sdk-js';

/**
 * What an invocation knows, before the workflow's code runs, about the operations that earlier
 * invocations of the same execution checkpointed: all of them, every page, as the SDK loaded them.
 * Durably's synchronous calls need it: `hook.token` is returned by `create()` at once, and
 * `patched()` answers at once, while the SDK reports an operation only through a promise.
 */
export class OperationIndex {
  private readonly byName = new Map<string, OperationInfo>();
  private readonly childCounts = new Map<string | undefined, number>();
  readonly executionStart?: number;

  constructor(info?: Pick<InvocationInfo, 'operations' | 'executionStartTimestamp'>) {
    this.executionStart = info?.executionStartTimestamp?.getTime();
    for (const op of Object.values(info?.operations ?? {})) {
      if (op.type === 'EXECUTION') continue;
      if (op.name !== undefined) this.byName.set(op.name, op);
      this.childCounts.set(op.parentId, (this.childCounts.get(op.parentId) ?? 0) + 1);
    }
  }

  /** The operation with this name (Durably names its own operations uniquely in an execution). */
  named(name: string): OperationInfo | undefined {
    return this.byName.get(name);
  }

  /** How many operations were checkpointed directly under a context (the root one: undefined). */
  countUnder(contextId: string | undefined): number {
    return this.childCounts.get(contextId) ?? 0;
  }
}

/**
 * The SDK plugin that captures each invocation's operations, by execution ARN, for the handler of
 * that invocation to read. The SDK awaits onInvocationStart before it runs the handler.
 */
export class OperationIndexPlugin implements DurableInstrumentationPlugin {
  private readonly invocations = new Map<string, OperationIndex>();

  async onInvocationStart(info: InvocationInfo): Promise<void> {
    this.invocations.set(info.executionArn, new OperationIndex(info));
  }

  async onInvocationEnd(info: { executionArn: string }): Promise<void> {
    this.invocations.delete(info.executionArn);
  }

  /**
   * The index of the invocation running `executionArn`. Missing only if the SDK ran the handler
   * without this plugin's onInvocationStart: then hooks and patches cannot be replayed, so the
   * invocation fails rather than guess (an empty index would make every replay look new).
   */
  for(executionArn: string): OperationIndex {
    const index = this.invocations.get(executionArn);
    if (!index) {
      throw new DurablyError(
        `No operation index for durable execution ${executionArn}: the durable execution SDK did not call Durably's plugin before the handler. Pass options to durableHandler(workflow, { config }) rather than wrapping its handler in another withDurableExecution.`,
      );
    }
    return index;
  }
}
