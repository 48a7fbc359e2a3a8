import { withDurableExecution, type DurableContext, type DurableExecutionConfig, type DurableLambdaHandler } from '@aws/durable-execution-sdk-js';
import { InvalidArgumentError, isWorkflow, type Workflow, type WorkflowDefinition } from '@durably/core';
import { ServerlessUnsupportedError } from './errors.js';
import { OperationIndexPlugin } from './operation-index.js';
import { LambdaRuntime } from './runtime.js';

/** Options of durableHandler: how the payload becomes arguments, and the SDK's own configuration. */
export interface DurableHandlerOptions<A extends unknown[]> {
  /**
   * The workflow's arguments from the invocation's payload. Default: a JSON array is the argument
   * list (`["user_123", "1d"]`); any other payload is the one argument.
   */
  args?: (payload: unknown) => A;
  /** Passed to the SDK's withDurableExecution (a DurableExecutionApiClient with your LambdaClient, plugins...). */
  config?: DurableExecutionConfig;
}

/**
 * A Lambda handler that runs `workflow` as an AWS Lambda durable function: its steps, sleeps,
 * hooks, child workflows, context values and patches become operations of AWS's durable
 * execution SDK, checkpointed by Lambda. No Durably storage or broker is involved.
 *
 * Workflow options that serverless mode cannot honour are refused here, when the handler is made
 * (at import time of the function's module), with a ServerlessUnsupportedError.
 */
export function durableHandler<A extends unknown[], R>(workflow: Workflow<A, R>, options: DurableHandlerOptions<A> = {}): DurableLambdaHandler {
  if (!isWorkflow(workflow)) throw new InvalidArgumentError('durableHandler(workflow): the argument must be a workflow made with workflow(name, fn).');
  refuseUnsupported(workflow.definition);
  if (options.args !== undefined && typeof options.args !== 'function') throw new InvalidArgumentError(`durableHandler(${workflow.workflowName}): "args" must be a function of the payload.`);
  const toArgs = options.args ?? ((payload: unknown) => (Array.isArray(payload) ? payload : payload === undefined ? [] : [payload]) as A);
  const index = new OperationIndexPlugin();
  const definition = workflow.definition as WorkflowDefinition;
  return withDurableExecution(
    async (payload: unknown, ctx: DurableContext) => {
      const arn = ctx.executionContext.durableExecutionArn;
      const operations = index.for(arn);
      const runtime = new LambdaRuntime({
        ctx,
        index: operations,
        runId: arn,
        definition,
        path: '',
        contextId: undefined,
        clock: operations.executionStart ?? Date.now(),
        seed: arn,
      });
      return runtime.run(toArgs(payload));
    },
    { ...options.config, plugins: [...(options.config?.plugins ?? []), index] },
  );
}

/** Options with no counterpart in a Lambda durable execution: refused with what to do instead. */
function refuseUnsupported(def: WorkflowDefinition): void {
  const owner = `workflow("${def.name}")`;
  if (!def.durable) throw new ServerlessUnsupportedError(`${owner} with durable: false`, 'a Lambda durable function is durable by definition. Remove durable: false, or run the workflow on a Durably worker.');
  if (def.concurrency) {
    throw new ServerlessUnsupportedError(`${owner} with "concurrency"`, 'Lambda has no per-workflow or per-key run limit. Remove it and set the function\'s reserved concurrency (a limit on invocations, not on executions).');
  }
  if (def.schedule) {
    throw new ServerlessUnsupportedError(`${owner} with "schedule"`, 'schedules are run by Durably workers. Remove it and invoke the function from an EventBridge Scheduler schedule.');
  }
  if (def.maxDurationMs !== undefined) {
    throw new ServerlessUnsupportedError(`${owner} with "maxDuration"`, 'Lambda enforces an execution\'s length itself. Remove it and set the function\'s DurableConfig ExecutionTimeout.');
  }
}
