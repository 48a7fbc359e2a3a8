import client from 'prom-client';
import type { Instrumentation } from './instrumentation.js';

/** Buckets (seconds) of step attempt durations and queue lag: 5 ms to 10 minutes. */
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

export interface MetricsSources {
  /** Tasks being handled by the worker now. */
  inProgress(): number;
  /** Dead-lettered messages per queue, read at scrape time (capped by the broker's listing). */
  deadLetterCounts?(): Promise<Record<string, number>>;
}

/**
 * Prometheus metrics of one worker, on a registry of its own (two workers in one process do not
 * collide), with prom-client's process metrics (CPU, memory, event loop lag, GC). prom-client is
 * used rather than writing the text format by hand: it is the de-facto Node client, keeps the
 * exposition format right (escaping, histogram buckets, `# TYPE` lines), and brings the process
 * metrics an operator expects next to the engine's.
 */
export class MetricsInstrumentation implements Instrumentation {
  readonly registry = new client.Registry();
  private readonly runsStarted = new client.Counter({ name: 'durably_runs_started_total', help: 'Runs started (first execution) by this worker.', labelNames: ['workflow'], registers: [this.registry] });
  private readonly runsCompleted = new client.Counter({ name: 'durably_runs_completed_total', help: 'Runs completed by this worker.', labelNames: ['workflow'], registers: [this.registry] });
  private readonly runsFailed = new client.Counter({ name: 'durably_runs_failed_total', help: 'Runs failed on this worker.', labelNames: ['workflow'], registers: [this.registry] });
  private readonly runsCancelled = new client.Counter({ name: 'durably_runs_cancelled_total', help: 'Runs cancelled on this worker.', labelNames: ['workflow'], registers: [this.registry] });
  private readonly runsContinued = new client.Counter({ name: 'durably_runs_continued_total', help: 'Runs that continued as new on this worker.', labelNames: ['workflow'], registers: [this.registry] });
  private readonly runsSuspended = new client.Counter({ name: 'durably_run_suspensions_total', help: 'Times a run suspended on this worker (waiting on a timer, hook, signal, child or dispatched step).', labelNames: ['workflow'], registers: [this.registry] });
  private readonly attempts = new client.Counter({ name: 'durably_step_attempts_total', help: 'Step attempts run by this worker, by outcome (completed, failed, retry, suspended).', labelNames: ['step', 'outcome'], registers: [this.registry] });
  private readonly attemptSeconds = new client.Histogram({ name: 'durably_step_attempt_duration_seconds', help: 'Duration of step attempts.', labelNames: ['step', 'outcome'], buckets: BUCKETS, registers: [this.registry] });
  private readonly lag = new client.Histogram({ name: 'durably_queue_lag_seconds', help: 'Time from a task being due to this worker receiving it.', labelNames: ['queue', 'kind'], buckets: BUCKETS, registers: [this.registry] });
  private readonly deadLettered = new client.Counter({ name: 'durably_dead_letters_total', help: 'Messages this worker failed for good (the broker dead-lettered them).', labelNames: ['queue'], registers: [this.registry] });
  private readonly recoveries = new client.Counter({ name: 'durably_recoveries_total', help: 'Runs recovered: stale_run, overdue_timer, worker_lost.', labelNames: ['kind'], registers: [this.registry] });
  private readonly executionErrors = new client.Counter({ name: 'durably_run_execution_errors_total', help: 'Executions that failed with an error and were left to the broker to deliver again.', labelNames: ['workflow'], registers: [this.registry] });

  constructor(sources: MetricsSources) {
    client.collectDefaultMetrics({ register: this.registry });
    new client.Gauge({
      name: 'durably_worker_tasks_in_progress',
      help: 'Tasks (runs and dispatched steps) the worker is handling now.',
      registers: [this.registry],
      collect() {
        this.set(sources.inProgress());
      },
    });
    if (sources.deadLetterCounts) {
      const counts = sources.deadLetterCounts;
      new client.Gauge({
        name: 'durably_dead_letter_queue_messages',
        help: 'Messages in the dead-letter queue of each queue this worker consumes (read from the broker at scrape time).',
        labelNames: ['queue'],
        registers: [this.registry],
        async collect() {
          for (const [queue, n] of Object.entries(await counts().catch(() => ({})))) this.set({ queue }, n);
        },
      });
    }
  }

  /** The metrics in the Prometheus text format. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  runExecution(info: { workflow: string; firstStart: boolean }) {
    const workflow = info.workflow;
    if (info.firstStart) this.runsStarted.inc({ workflow });
    return {
      end: ({ outcome }: { outcome: string }) => {
        if (outcome === 'completed') this.runsCompleted.inc({ workflow });
        else if (outcome === 'failed') this.runsFailed.inc({ workflow });
        else if (outcome === 'cancelled') this.runsCancelled.inc({ workflow });
        else if (outcome === 'continued') this.runsContinued.inc({ workflow });
        else if (outcome === 'suspended') this.runsSuspended.inc({ workflow });
        else if (outcome === 'error') this.executionErrors.inc({ workflow });
      },
    };
  }

  stepAttempt(info: { step: string }) {
    return {
      end: ({ outcome, durationMs }: { outcome: string; durationMs: number }) => {
        this.attempts.inc({ step: info.step, outcome });
        this.attemptSeconds.observe({ step: info.step, outcome }, durationMs / 1000);
      },
    };
  }

  taskReceived(info: { queue: string; kind: string; lagMs: number }) {
    this.lag.observe({ queue: info.queue, kind: info.kind }, Math.max(0, info.lagMs) / 1000);
  }

  deadLetter(info: { queue: string }) {
    this.deadLettered.inc({ queue: info.queue });
  }

  recovery(info: { kind: string }) {
    this.recoveries.inc({ kind: info.kind });
  }
}
