import type { TestProject } from 'vitest/node';
import { inPrivateNetwork, startDynamoDbLocal, startFauxqs, type Running } from './servers.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** DynamoDB Local's endpoint, or '' when this run is not in a private network namespace. */
    dynamodbEndpoint: string;
    sqsEndpoint: string;
  }
}

/** Starts the emulators once for the whole run; test files isolate themselves by table and queue prefix. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const running: Running[] = [];
  const sqs = await startFauxqs();
  running.push(sqs);
  project.provide('sqsEndpoint', sqs.endpoint);
  if (inPrivateNetwork()) {
    const dynamo = await startDynamoDbLocal();
    running.push(dynamo);
    project.provide('dynamodbEndpoint', dynamo.endpoint);
  } else {
    project.provide('dynamodbEndpoint', '');
  }
  return async () => {
    await Promise.allSettled(running.map((r) => r.stop()));
  };
}
