/**
 * Streams: reactive, multi-actor workflows.
 *
 * A stream is a named channel with subscribers. A *stream run* (one per `streamRunId`) is a durable
 * run of the built-in workflow `durably.stream`: it takes the signals emitted to it one at a time,
 * numbers them (the per-stream-run sequence), validates each against its type's schema, and hands it
 * to every stream step subscribed to its type. A handler runs as a durable step (retried, recorded
 * once) and reacts: resume, suspend, terminate, or complete with a result; it may emit further
 * signals, now or later. Because a stream run is an ordinary run, its signals live in its own log:
 * two stream runs never see each other's signals, on any storage.
 *
 * A workflow calls `runStream(stream, { streamRunId, input })`: it suspends (holding nothing) until
 * the stream's aggregate is completed, or suspended (no signal left to handle and a step waiting for
 * outside input), and gets every stream step's status, state and result.
 */
export * from './types.js';
export { defineStream, streamStep, getStream } from './define.js';
export { streamWorkflow } from './run.js';
export { emit, inspectStream, runStream, scheduleSignal, startStream } from './verbs.js';
