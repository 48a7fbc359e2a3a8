export * from './errors.js';
export * from './duration.js';
export * from './serialization.js';
export * from './events.js';
export * from './storage/storage.js';
export * from './broker/broker.js';
