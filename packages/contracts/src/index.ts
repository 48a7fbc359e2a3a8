/**
 * @durably/contracts: what an adapter (and the engine) build on. Storage and broker contracts,
 * events, errors, serialization, durations, limits, the logger interface, the name rules, URL and
 * cursor helpers, and the adapter-module type. Depends on devalue and ms only.
 */
export * from './errors.js';
export * from './codec-errors.js';
export { ENVELOPE_PREFIX, formatEnvelope, isEnvelope, parseEnvelope, type PayloadCodec, type EnvelopeParts } from './codec.js';
export * from './update-errors.js';
export * from './stream-errors.js';
export * from './duration.js';
export { durationMs } from './duration-ms.js';
export { parseServerUrl, redactUrl } from './urls.js';
export * from './serialization.js';
export * from './events.js';
export * from './history.js';
export * from './storage.js';
export * from './broker.js';
export * from './failures.js';
export { Batcher, type BatchOutcome, type BatcherOptions } from './batcher.js';
export { PolledConsumer, type ClaimedWithNext, type PolledQueue, type PolledConsumerSettings } from './polled-queue.js';
export { DEFAULT_LIMITS, ATTRIBUTE_LIMITS, checkPayload, type Limits } from './limits.js';
export { jsonLogger, logLevelFromEnv, LOG_LEVELS, type Logger, type LogLevel, type JsonLoggerOptions } from './logger.js';
export * from './names.js';
export * from './attributes.js';
export { encodeCursor, decodeCursor, pageLimit } from './cursor.js';
export { checkRunFilter } from './run-filter.js';
export type { AdapterModule } from './adapter.js';
