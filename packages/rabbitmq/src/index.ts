import type { AdapterModule } from '@durably/contracts';
import { RabbitMQBroker } from './broker.js';

export { RabbitMQBroker } from './broker.js';
export type { RabbitMQBrokerOptions, QueueType, AmqpConnection } from './options.js';
export { DELAY_LEVELS, MAX_DELAY_MS } from './delay.js';

/**
 * Registers the `amqp:` and `amqps:` schemes: `DURABLY_BROKER=amqp://guest:guest@127.0.0.1:5672`.
 * Query parameters `prefix` (default "durably"), `queueType` (quorum | classic), `deliveryLimit`,
 * `consumerTimeout` and `publishTimeout` are Durably's; the rest go to amqplib. RabbitMQ is a broker
 * only: pair it with any storage.
 */
export const durablyAdapter: AdapterModule = {
  broker: (url) => RabbitMQBroker.fromUrl(url),
};
