import type { AdapterModule } from '@durably/core';
import { DynamoStorage } from './dynamodb/storage.js';

export { DynamoStorage } from './dynamodb/storage.js';
export type { DynamoStorageOptions } from './dynamodb/options.js';
export type { CapacityUsage } from './dynamodb/dynamo.js';
export { storageOptionsFromUrl } from './dynamodb/options.js';
export { SCHEMA_VERSION } from './dynamodb/keys.js';

/** Registers the `dynamodb:` and `sqs:` schemes. */
export const durablyAdapter: AdapterModule = {
  storage: (url) => DynamoStorage.fromUrl(url),
};
