import type { AdapterModule } from '@durably/contracts';
import { DynamoStorage } from './dynamodb/storage.js';
import { SqsBroker } from './sqs/broker.js';

export { DynamoStorage } from './dynamodb/storage.js';
export type { DynamoStorageOptions } from './dynamodb/options.js';
export type { CapacityUsage } from './dynamodb/dynamo.js';
export { storageOptionsFromUrl } from './dynamodb/options.js';
export { SCHEMA_VERSION } from './dynamodb/keys.js';
export { SqsBroker, SQS_MAX_DELAY_MS } from './sqs/broker.js';
export type { SqsBrokerOptions } from './sqs/options.js';
export { brokerOptionsFromUrl } from './sqs/options.js';
export { sqsQueueName } from './sqs/names.js';

/**
 * Registers the `dynamodb:` and `sqs:` schemes:
 * `DURABLY_STORAGE=dynamodb://TABLE?region=eu-west-1` and `DURABLY_BROKER=sqs://PREFIX?region=eu-west-1`
 * (`&endpoint=http://host:port` for DynamoDB Local or an SQS emulator). Credentials come from the SDK's chain.
 */
export const durablyAdapter: AdapterModule = {
  storage: (url) => DynamoStorage.fromUrl(url),
  broker: (url) => SqsBroker.fromUrl(url),
};
