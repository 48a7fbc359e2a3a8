import { DurableOnlyError } from '@durably/core';

/**
 * A Durably feature that a workflow run as an AWS Lambda durable function cannot have (signals,
 * continue-as-new, rate limits, per-key concurrency...). Thrown at definition time by
 * `durableHandler` for workflow options, and at the call for calls made inside the workflow.
 * It is a DurableOnlyError (code DURABLE_ONLY): the feature needs Durably's own engine.
 */
export class ServerlessUnsupportedError extends DurableOnlyError {
  constructor(what: string, instead: string) {
    super(`${what} is not available in serverless mode (AWS Lambda durable functions): ${instead}`);
  }
}
