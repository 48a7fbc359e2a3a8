import { PoisonMessageError } from '@durably/contracts';
import type { RetryPolicy } from '../../engine/retry.js';

/**
 * The broker message envelope. Messages are hints to do work; the truth is in storage, so a
 * duplicate, late or lost message is harmless (sweeps republish what a lost one would have done).
 */
export type TaskMessage = RunTask | StepTask;

/** Advance a run: replay it and run it forward. */
export interface RunTask {
  v: 1;
  kind: 'run';
  runId: string;
  reason: 'start' | 'timer' | 'step' | 'recover' | 'cancel' | 'retry' | 'hook' | 'signal' | 'update';
  /** Not before this epoch ms (covers delays longer than the broker's maximum). */
  notBefore?: number;
  /** When it was published (epoch ms): the worker measures queue lag from it. */
  sentAt?: number;
  /** Times workers that do not have the run's workflow passed this task on (see unknown-workflows.ts). */
  hops?: number;
}

/** Run one attempt of a dispatched step. */
export interface StepTask {
  v: 1;
  kind: 'step';
  runId: string;
  stepId: string;
  name: string;
  args: string;
  policy: RetryPolicy;
  /** seq of the step_scheduled event: outcomes are looked for after it. */
  scheduledSeq: number;
  /**
   * The step's step_scheduled ended the run's log when the task was sent, and the step had no attempt
   * yet: the claim appends its step_started at once, fenced at `scheduledSeq`, without reading the log
   * first (it reads only when that append conflicts). Absent in retries and in tasks of older versions.
   */
  endsLog?: boolean;
  /** The workflow's queue, where the run task goes when the step is done. */
  workflowQueue: string;
  /**
   * The run's workflow: a worker that has it and listens on `workflowQueue` continues the run itself
   * when the step is done, instead of publishing the run task (absent in tasks of older versions).
   */
  workflow?: string;
  notBefore?: number;
  sentAt?: number;
  /** W3C trace context of the run execution that dispatched it (OpenTelemetry). */
  traceparent?: string;
  tracestate?: string;
}

export function encodeTask(task: TaskMessage): string {
  return JSON.stringify(task);
}

/**
 * Reads a broker message body made by the engine. Throws `PoisonMessageError` when it is not JSON or
 * not a task of a known shape (the worker then dead-letters it at once).
 */
export function decodeTask(body: string): TaskMessage {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    throw new PoisonMessageError(`Undecodable message (not JSON): ${body.slice(0, 200)}`);
  }
  const task = value as Partial<TaskMessage> | null;
  if (!task || task.v !== 1 || typeof task.runId !== 'string' || (task.kind !== 'run' && task.kind !== 'step')) {
    throw new PoisonMessageError(`Unknown message shape: ${body.slice(0, 200)}`);
  }
  if (task.kind === 'step' && (typeof task.stepId !== 'string' || typeof task.name !== 'string' || typeof task.args !== 'string')) {
    throw new PoisonMessageError(`Malformed step task: ${body.slice(0, 200)}`);
  }
  // JSON has no Infinity: the unlimited attempts of `retries: Infinity` travel as null.
  if (task.kind === 'step' && task.policy && (task.policy as { maxAttempts: number | null }).maxAttempts === null) {
    task.policy.maxAttempts = Infinity;
  }
  return task as TaskMessage;
}

/**
 * A step task sent again after an attempt of it was claimed (its retry, or a hand-back to another
 * worker): due when its publish delay says, and without `endsLog`, since a step_started follows its
 * step_scheduled now and a claim without a read could only conflict.
 */
export function stepTaskAgain(task: StepTask): StepTask {
  return { ...task, notBefore: undefined, endsLog: undefined };
}

/** Broker queue that carries a Durably queue's tasks. */
export function brokerQueue(queue: string): string {
  return `durably.${queue}`;
}

/** The Durably queue a broker queue carries (the inverse of brokerQueue). */
export function queueOfBrokerQueue(name: string): string {
  return name.startsWith('durably.') ? name.slice('durably.'.length) : name;
}

/** The wake-up of a run: the one constructor of run tasks (a timer fired, a step ended, a signal came...). */
export function runTask(runId: string, reason: RunTask['reason']): RunTask {
  return { v: 1, kind: 'run', runId, reason };
}
