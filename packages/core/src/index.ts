export * from './errors.js';
export * from './duration.js';
export * from './serialization.js';
export * from './events.js';
export * from './storage/storage.js';
export * from './broker/broker.js';
export * from './broker/failures.js';
export type { Logger, LogLevel } from './logger.js';
export { DEFAULT_LIMITS, type Limits } from './limits.js';
export { createLogger } from './logger.js';
export type { RetryOptions, BackoffOptions, RetryPolicy } from './retry.js';
export { step, workflow, isWorkflow, getStepDefinition } from './definitions.js';
export type { Step, Workflow, StepOptions, WorkflowOptions, StepDefinition, WorkflowDefinition, ArgsSchema } from './definitions.js';
export { validateArgs } from './definitions.js';
export { context, stepContext, sleep } from './context.js';
export { checkpoint, type CheckpointStore } from './checkpoint.js';
export { stepHook } from './step-hooks.js';
export { defineHook, defineQuery, waitForSignal, patched, continueAsNew, shield, startChild, startChildWith, runChild, getHookDefinition } from './hooks.js';
export type { QueryDefinition } from './hooks.js';
export type { ChildHandle, ChildOptions } from './hooks.js';
export type { HookDefinition, Hook, PayloadSchema } from './hooks.js';
export type { StepContext, WorkflowContext } from './context.js';
export { Client, RunHandle } from './client/client.js';
export type { ClientOptions, StartOptions } from './client/client.js';
export type { RunWaiting } from './client/waiting.js';
export { Worker } from './worker/worker.js';
export type { WorkerOptions } from './worker/worker.js';
export type { StopOnSignalsOptions } from './worker/shutdown.js';
export {
  configure,
  createClient,
  connect,
  createWorker,
  defineConfig,
  getDefaultClient,
  getRun,
  listRuns,
  start,
  startWith,
  cancel,
  resumeHook,
  sendSignal,
  schedule,
  storageFromUrl,
  brokerFromUrl,
  resolveBackends,
  loadConfigFile,
  DEFAULT_STORAGE_URL,
  DEFAULT_BROKER_URL,
} from './config.js';
export type { DurablyConfig, AdapterModule } from './config.js';
export { defineStream, streamStep, emit, scheduleSignal, runStream, startStream, inspectStream, getStream, STREAM_WORKFLOW } from './streams.js';
export type { Stream, StreamSignal, StreamStepState, StreamStepStatus, StreamStatus, StreamOutcome, StreamSnapshot, StreamReaction, StreamStepContext, StreamHandler, StreamStepOptions, StreamOptions, StreamEmitter, EmitOptions } from './streams.js';
export { Schedules, Scheduler, nextSlot, type ScheduleOptions } from './schedules.js';
export * from './backends/memory/storage.js';
export * from './backends/memory/broker.js';
export * from './backends/local/storage.js';
export * from './backends/local/broker.js';
export { encodeCursor, decodeCursor, pageLimit } from './backends/memory/cursor.js';
