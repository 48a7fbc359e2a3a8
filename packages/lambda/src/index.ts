export { durableHandler, type DurableHandlerOptions } from './handler.js';
export { resumeHook, rejectHook, type CallbackSender, type ResumeOptions } from './client.js';
export { encodeHookPayload, decodeHookPayload } from './codec.js';
export { ServerlessUnsupportedError } from './errors.js';
export { PENDING_TOKEN } from './hook-operations.js';
