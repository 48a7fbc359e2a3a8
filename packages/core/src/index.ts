// Every contract name (errors, events, storage and broker contracts, serialization, durations, limits,
// the Logger type, name rules, URL and cursor helpers, AdapterModule), so `import { StorageError } from
// '@durably/core'` keeps working.
export * from '@durably/contracts';
export type { LoggerOptions, PinoLike } from './logger.js';
export { createLogger, createPino, fromPino, toLogger, isPinoLike } from './logger.js';
export type { WorkerConfig, HttpOptions, ResolvedConfig, Setting, SettingSource } from './config/types.js';
export { validateConfig, resolveConfig, findConfigFile, loadConfigFromFile, hidePassword, nearest, CONFIG_FILE_NAMES, ENV_VARIABLES, type ResolveOptions, type ModuleImporter } from './config/index.js';
export { combineInstrumentation, type Instrumentation, type CombinedInstrumentation, type TraceContext, type RunStartInfo, type StartScope, type RunExecutionInfo, type RunExecutionOutcome, type RunExecutionResult, type RunScope, type StepAttemptInfo, type StepAttemptOutcome, type AttemptScope, type TaskInfo, type DeadLetterInfo, type RecoveryInfo } from './observe/instrumentation.js';
export { logInstrumentation } from './observe/log-instrumentation.js';
export { otelInstrumentation } from './observe/otel.js';
export { parseTraceparent, formatTraceparent } from './observe/trace-context.js';
export { listDeadLetters, retryDeadLetter, type DeadTask } from './client/dead-letters.js';
export { brokerQueue, decodeTask, type TaskMessage, type RunTask, type StepTask } from './worker/messages.js';
export type { RetryOptions, BackoffOptions, RetryPolicy } from './retry.js';
export { step, workflow, isWorkflow, getStepDefinition } from './definitions.js';
export type { Step, Workflow, StepOptions, WorkflowOptions, StepDefinition, WorkflowDefinition, ArgsSchema } from './definitions.js';
export { validateArgs } from './definitions.js';
export { context, stepContext, workflowContext, sleep } from './context.js';
export { checkpoint, type CheckpointStore } from './checkpoint.js';
export { stepHook } from './step-hooks.js';
export { defineHook, defineQuery, waitForSignal, patched, continueAsNew, shield, startChild, startChildWith, runChild, getHookDefinition } from './hooks.js';
export type { QueryDefinition } from './hooks.js';
export type { ChildHandle, ChildOptions } from './hooks.js';
export type { HookDefinition, Hook, PayloadSchema } from './hooks.js';
export type { StepContext, WorkflowContext } from './context.js';
export { Client, RunHandle } from './client/client.js';
export type { ClientOptions, StartOptions, StartOutcome } from './client/client.js';
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
  openBackends,
  storageAdapterFor,
  clientFromConfig,
  describeBackend,
  loadConfigFile,
  DEFAULT_STORAGE_URL,
  DEFAULT_BROKER_URL,
} from './config.js';
export type { DurablyConfig, ClientSetup } from './config.js';
export { defineStream, streamStep, emit, scheduleSignal, runStream, startStream, inspectStream, getStream, STREAM_WORKFLOW } from './streams.js';
export type { Stream, StreamSignal, StreamStepState, StreamStepStatus, StreamStatus, StreamOutcome, StreamSnapshot, StreamReaction, StreamStepContext, StreamHandler, StreamStepOptions, StreamOptions, StreamEmitter, EmitOptions } from './streams.js';
export { Schedules, Scheduler, nextSlot, countSlots, type ScheduleOptions } from './schedules.js';
// The in-process backends live in @durably/local (a dependency): memory, and embedded SQLite.
export { MemoryStorage, MemoryBroker, MemoryBrokerHub, LocalStorage, LocalBroker, type LocalStorageOptions, type LocalBrokerOptions } from '@durably/local';
/** For runtime implementers (another engine running Durably workflows): see runtime-kit.ts. */
export * as runtimeKit from './runtime-kit.js';
