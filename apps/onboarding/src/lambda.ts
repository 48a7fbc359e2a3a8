/**
 * The onboarding workflow as an AWS Lambda durable function (serverless mode): the same workflow
 * and steps as src/workflows.ts, checkpointed by Lambda instead of Durably's storage. Deploy this
 * module's `handler` with durable execution enabled; invoke it with the workflow's arguments as a
 * JSON array, e.g. ["user_123", "1d"]. See DEPLOY-LAMBDA.md.
 */
import { durableHandler } from '@durably/lambda';
import { onboarding } from './workflows.js';

export const handler = durableHandler(onboarding);
