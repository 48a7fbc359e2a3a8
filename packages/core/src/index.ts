export * from './errors.js';
export * from './duration.js';
export { parseServerUrl } from './urls.js';
export * from './serialization.js';
export * from './events.js';
export * from './storage/storage.js';
export * from './broker/broker.js';
export * from './broker/failures.js';
export type { Logger, LogLevel, LoggerOptions, PinoLike } from './logger.js';
export { DEFAULT_LIMITS, type Limits } from './limits.js';
export { createLogger, createPino, fromPino, toLogger, isPinoLike } from './logger.js';
export type { WorkerConfig, HttpOptions, ResolvedConfig, Setting, SettingSource } from './config/types.js';
export { validateConfig, resolveConfig, findConfigFile, loadConfigFromFile, hidePassword, nearest, CONFIG_FILE_NAMES, ENV_VARIABLES, type ResolveOptions, type ModuleImporter } from './config/index.js';
export { combineInstrumentation, type Instrumentation, type CombinedInstrumentation, type TraceContext, type RunStartInfo, type StartScope, type RunExecutionInfo, type RunExecutionOutcome, type RunExecutionResult, type RunScope, type StepAttemptInfo, type StepAttemptOutcome, type AttemptScope, type TaskInfo, type DeadLetterInfo, type RecoveryInfo } from './observe/instrumentation.js';
export { logInstrumentation } from './observe/log-instrumentation.js';
export { otelInstrumentation } from './observe/otel.js';
export { parseTraceparent, formatTraceparent } from './observe/trace-context.js';
export { listDeadLetters, retryDeadLetter, type DeadTask } from './runtime/client/dead-letters.js';
export { brokerQueue, decodeTask, type TaskMessage, type RunTask, type StepTask } from './runtime/tasks/messages.js';
export type { RetryOptions, BackoffOptions, RetryPolicy } from './engine/retry.js';
export { step, workflow, isWorkflow, getStepDefinition } from './api/definitions.js';
export type { Step, Workflow, StepOptions, WorkflowOptions, StepDefinition, WorkflowDefinition, ArgsSchema } from './api/definitions.js';
export { validateArgs } from './api/definitions.js';
export { context, stepContext, workflowContext, sleep } from './api/context.js';
export { checkpoint, type CheckpointStore } from './api/checkpoint.js';
export { stepHook } from './api/step-hooks.js';
export { defineHook, defineQuery, getHookDefinition } from './api/hooks.js';
export { waitForSignal } from './api/signals.js';
export { patched, continueAsNew, shield } from './api/flow.js';
export { startChild, startChildWith, runChild } from './api/children.js';
export type { QueryDefinition } from './api/hooks.js';
export type { ChildHandle, ChildOptions } from './api/children.js';
export type { HookDefinition, Hook, PayloadSchema } from './api/hooks.js';
export type { StepContext, WorkflowContext } from './api/context.js';
export { Client, RunHandle } from './runtime/client/client.js';
export type { ClientOptions, StartOptions, StartOutcome } from './runtime/client/client.js';
export type { RunWaiting } from './runtime/client/waiting.js';
export { Worker } from './runtime/worker/worker.js';
export type { WorkerOptions } from './runtime/worker/worker.js';
export type { StopOnSignalsOptions } from './runtime/worker/shutdown.js';
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
  openBackends,
  storageAdapterFor,
  clientFromConfig,
  describeBackend,
  loadConfigFile,
  DEFAULT_STORAGE_URL,
  DEFAULT_BROKER_URL,
} from './config.js';
export type { DurablyConfig, AdapterModule, ClientSetup } from './config.js';
export { defineStream, streamStep, emit, scheduleSignal, runStream, startStream, inspectStream, getStream, STREAM_WORKFLOW } from './api/streams.js';
export type { Stream, StreamSignal, StreamStepState, StreamStepStatus, StreamStatus, StreamOutcome, StreamSnapshot, StreamReaction, StreamStepContext, StreamHandler, StreamStepOptions, StreamOptions, StreamEmitter, EmitOptions } from './api/streams.js';
export { Schedules, Scheduler, nextSlot, countSlots, type ScheduleOptions } from './runtime/schedules.js';
export * from './backends/memory/storage.js';
export * from './backends/memory/broker.js';
export * from './backends/local/storage.js';
export * from './backends/local/broker.js';
export { encodeCursor, decodeCursor, pageLimit } from './backends/memory/cursor.js';
