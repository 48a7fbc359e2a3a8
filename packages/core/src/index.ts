// Every contract name (errors, events, storage and broker contracts, serialization, durations, limits,
// the Logger type, name rules, URL and cursor helpers, AdapterModule), so `import { StorageError } from
// '@durably/core'` keeps working.
export * from '@durably/contracts';
export type { LoggerOptions, PinoLike } from './logger.js';
export { createLogger, createPino, fromPino, toLogger, isPinoLike } from './logger.js';
export type { WorkerConfig, WorkerTuning, HttpOptions, ResolvedConfig, Setting, SettingSource } from './config/types.js';
export { validateConfig, resolveConfig, findConfigFile, loadConfigFromFile, hidePassword, nearest, CONFIG_FILE_NAMES, ENV_VARIABLES, type ResolveOptions, type ModuleImporter } from './config/index.js';
export { combineInstrumentation, type Instrumentation, type CombinedInstrumentation, type TraceContext, type RunStartInfo, type StartScope, type RunExecutionInfo, type RunExecutionOutcome, type RunExecutionResult, type RunScope, type StepAttemptInfo, type StepAttemptOutcome, type AttemptScope, type TaskInfo, type DeadLetterInfo, type RecoveryInfo } from './observe/instrumentation.js';
export { logInstrumentation } from './observe/log-instrumentation.js';
export { otelInstrumentation } from './observe/otel.js';
export { parseTraceparent, formatTraceparent } from './observe/trace-context.js';
export { listDeadLetters, retryDeadLetter, type DeadTask } from './runtime/client/dead-letters.js';
export { brokerQueue, decodeTask, type TaskMessage, type RunTask, type StepTask } from './runtime/tasks/messages.js';
export type { RetryOptions, BackoffOptions, RetryPolicy } from './engine/retry.js';
export { step, workflow, isWorkflow, getStepDefinition, getWorkflow, listWorkflows } from './api/definitions.js';
export type { Step, Workflow, StepOptions, WorkflowOptions, StepDefinition, WorkflowDefinition, ArgsSchema } from './api/definitions.js';
export { validateArgs } from './api/definitions.js';
export { context, stepContext, workflowContext, sleep, isReplaying } from './api/context.js';
export { checkpoint, type CheckpointStore } from './api/checkpoint.js';
export { stepHook } from './api/step-hooks.js';
export { defineHook, defineQuery, getHookDefinition } from './api/hooks.js';
export { waitForSignal, onSignal, condition, type SignalWait } from './api/signals.js';
export { defineUpdate, getUpdateDefinition, type UpdateDefinition, type UpdateOptions } from './api/updates.js';
export { patched, continueAsNew, shield } from './api/flow.js';
export { setAttributes } from './api/attributes.js';
export { cancellable, withTimeout, cancelRequested, type CancellableScope } from './api/cancellation.js';
export { startChild, startChildWith, runChild } from './api/children.js';
export type { QueryDefinition } from './api/hooks.js';
export type { ChildHandle, ChildOptions } from './api/children.js';
export type { HookDefinition, Hook, MultiUseHook, PayloadSchema } from './api/hooks.js';
export type { StepContext, WorkflowContext } from './api/context.js';
export { Client, RunHandle } from './runtime/client/client.js';
export type { ClientOptions, StartOptions, StartOutcome, UpdateCallOptions, UpdateWithStartOptions } from './runtime/client/client.js';
export type { ClockSync, ClockSyncOptions, ClockOffset, ClockSample } from './runtime/client/clock-sync.js';
export type { RunWaiting } from './runtime/client/waiting.js';
export { Worker } from './runtime/worker/worker.js';
export type { WorkerOptions } from './runtime/worker/worker.js';
export type { StopOnSignalsOptions } from './runtime/worker/shutdown.js';
export { configure, createWorker, defineConfig, getDefaultClient, getRun, getRunByKey, listRuns, start, startWith, cancel, resumeHook, sendSignal, sendUpdate, updateWithStart, schedule } from './api/default-client.js';
export { createClient, connect, clientFromConfig, type ClientSetup } from './runtime/client/create.js';
export { aesGcmCodec, encryptStorage, EncryptedStorage, codecFromEnv, ENCRYPTED_ERROR_NAME, type AesGcmCodecOptions } from './codec/index.js';
export { storageFromUrl, brokerFromUrl, resolveBackends, openBackends, storageAdapterFor, describeBackend, loadConfigFile } from './config/adapters.js';
export { DEFAULT_STORAGE_URL, DEFAULT_BROKER_URL } from './config/resolve.js';
export type { DurablyConfig } from './config/types.js';
export { defineStream, streamStep, emit, scheduleSignal, runStream, startStream, inspectStream, getStream, STREAM_WORKFLOW } from './api/streams/index.js';
export type { Stream, StreamSignal, StreamStepState, StreamStepStatus, StreamStatus, StreamOutcome, StreamSnapshot, StreamReaction, StreamStepContext, StreamHandler, StreamStepOptions, StreamOptions, StreamEmitter, EmitOptions } from './api/streams/index.js';
export { Schedules, Scheduler, nextSlot, countSlots, type ScheduleOptions } from './runtime/schedules.js';
// The in-process backends live in @durably/local (a dependency): memory, and embedded SQLite.
export { MemoryStorage, MemoryBroker, MemoryBrokerHub, LocalStorage, LocalBroker, type LocalStorageOptions, type LocalBrokerOptions } from '@durably/local';
/** For runtime implementers (another engine running Durably workflows): see engine/runtime-kit.ts. */
export * as runtimeKit from './engine/runtime-kit.js';
/** Run histories: export a run's log to a file, and replay one against the current code (@durably/testing's replayHistory). */
export { exportHistory, DURABLY_VERSION, type ExportHistoryOptions } from './runtime/client/export-history.js';
export { replayRunLog, type ReplayCheck, type ReplayDivergence } from './engine/history-replay.js';
/** The hook index key of a token (`HookRecord.token`), for tools and tests that read a storage's hook index. */
export { hookIndexKey } from './engine/hook-token.js';
