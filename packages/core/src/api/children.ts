import { InvalidArgumentError, type ParentClosePolicy, checkQueue } from '@durably/contracts';
import { isWorkflow, type Workflow } from '../engine/definitions.js';
import { workflowRuntime } from './context.js';

/** A child run started from a workflow: its id and its outcome. */
export interface ChildHandle<R> {
  readonly runId: string;
  /** Awaits the child's outcome (durably); rejects with ChildWorkflowFailedError. */
  result(): Promise<R>;
}

/** Options of `startChildWith(workflow, args, options)`. */
export interface ChildOptions {
  /** When the parent ends first: "terminate" (default), "request_cancel" or "abandon". */
  parentClosePolicy?: ParentClosePolicy;
  /** Queue of the child's workflow tasks (default: the child workflow's queue). */
  queue?: string;
}

/** Starts a child workflow run, listed under this run; resolves once the child is recorded. */
export function startChild<A extends unknown[], R>(wf: Workflow<A, R>, ...args: A): Promise<ChildHandle<Awaited<R>>> {
  return startChildWith(wf, args, {});
}

/**
 * Like `startChild`, with options: what happens to the child when the parent ends first, and its queue.
 * Workflow-only (throws `NotInWorkflowError` elsewhere); `InvalidArgumentError` for a bad policy or queue.
 */
export async function startChildWith<A extends unknown[], R>(wf: Workflow<A, R>, args: A, options: ChildOptions): Promise<ChildHandle<Awaited<R>>> {
  const execution = workflowRuntime('startChild()');
  if (!isWorkflow(wf)) throw new InvalidArgumentError('startChild(): the first argument must be a workflow made with workflow(name, fn).');
  const policy = options.parentClosePolicy ?? 'terminate';
  if (!['terminate', 'request_cancel', 'abandon'].includes(policy)) {
    throw new InvalidArgumentError(`startChild(): parentClosePolicy must be "terminate", "request_cancel" or "abandon", got ${JSON.stringify(policy)}.`);
  }
  const queue = options.queue === undefined ? undefined : checkQueue(options.queue, 'startChild()');
  const child = await execution.startChild(wf.definition, args, { parentClosePolicy: policy, queue });
  return { runId: child.runId, result: () => child.result as Promise<Awaited<R>> };
}

/** Starts a child workflow and waits for its result. */
export async function runChild<A extends unknown[], R>(wf: Workflow<A, R>, ...args: A): Promise<Awaited<R>> {
  return (await startChild(wf, ...args)).result();
}

