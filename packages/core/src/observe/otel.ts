import { createRequire } from 'node:module';
import type * as Api from '@opentelemetry/api';
import type { Instrumentation, TraceContext } from './instrumentation.js';
import { formatTraceparent, parseTraceparent } from './trace-context.js';

/**
 * OpenTelemetry spans, when `@opentelemetry/api` is installed (an optional peer dependency; with no
 * tracer provider registered every span is a no-op). Loaded with require so that an absent API is
 * simply no instrumentation.
 *
 *   durably.start <workflow>   client: creating a run; its context is stored with the run
 *   durably.run <workflow>     worker: one execution of a run (replay, then forward to a suspension or the end)
 *   durably.step <step>        worker: one step attempt
 *
 * The context of the caller of start() is written into the run's `run_created` event
 * (`traceparent`, `tracestate`), and dispatched step tasks carry their run's, so the spans of a run
 * join the caller's trace on whichever worker runs it.
 */
let loaded: typeof Api | null | undefined;

function api(): typeof Api | undefined {
  if (loaded === undefined) {
    try {
      loaded = createRequire(import.meta.url)('@opentelemetry/api') as typeof Api;
    } catch {
      loaded = null;
    }
  }
  return loaded ?? undefined;
}

const TRACER = '@durably/core';

function toContext(otel: typeof Api, trace: TraceContext | undefined): Api.Context | undefined {
  const parsed = parseTraceparent(trace?.traceparent);
  if (!parsed) return undefined;
  const spanContext: Api.SpanContext = { traceId: parsed.traceId, spanId: parsed.spanId, traceFlags: parsed.flags, isRemote: true };
  if (trace?.tracestate) spanContext.traceState = otel.createTraceState(trace.tracestate);
  return otel.trace.setSpanContext(otel.ROOT_CONTEXT, spanContext);
}

function fromSpan(span: Api.Span): TraceContext | undefined {
  const sc = span.spanContext();
  if (!sc || !/[1-9a-f]/.test(sc.traceId) || !/[1-9a-f]/.test(sc.spanId)) return undefined;
  const traceparent = formatTraceparent(sc.traceId, sc.spanId, sc.traceFlags);
  const tracestate = sc.traceState?.serialize();
  return tracestate ? { traceparent, tracestate } : { traceparent };
}

function fail(otel: typeof Api, span: Api.Span, error: unknown): void {
  if (error instanceof Error) span.recordException(error);
  span.setStatus({ code: otel.SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
}

/** The OpenTelemetry instrumentation, or undefined when `@opentelemetry/api` is not installed. */
export function otelInstrumentation(): Instrumentation | undefined {
  const otel = api();
  if (!otel) return undefined;
  const tracer = () => otel.trace.getTracer(TRACER);
  return {
    runStart(info) {
      const span = tracer().startSpan(`durably.start ${info.workflow}`, {
        kind: otel.SpanKind.PRODUCER,
        attributes: { 'durably.run.id': info.runId, 'durably.workflow': info.workflow, 'durably.queue': info.queue },
      });
      const ctx = otel.trace.setSpan(otel.context.active(), span);
      return {
        trace: fromSpan(span),
        wrap: (fn) => otel.context.with(ctx, fn),
        end(error) {
          if (error !== undefined) fail(otel, span, error);
          span.end();
        },
      };
    },
    runExecution(info) {
      const parent = toContext(otel, info.trace) ?? otel.context.active();
      const span = tracer().startSpan(
        `durably.run ${info.workflow}`,
        {
          kind: otel.SpanKind.CONSUMER,
          attributes: {
            'durably.run.id': info.runId,
            'durably.workflow': info.workflow,
            'durably.queue': info.queue,
            'durably.worker.id': info.workerId,
            'durably.run.first_start': info.firstStart,
            'durably.run.replayed_events': info.replayedEvents,
          },
        },
        parent,
      );
      const ctx = otel.trace.setSpan(parent, span);
      return {
        wrap: (fn) => otel.context.with(ctx, fn),
        trace: () => fromSpan(span),
        end({ outcome, error }) {
          span.setAttribute('durably.run.outcome', outcome);
          if (outcome === 'failed' || outcome === 'error') fail(otel, span, error);
          span.end();
        },
      };
    },
    stepAttempt(info) {
      const parent = toContext(otel, info.trace) ?? otel.context.active();
      const attributes: Api.Attributes = {
        'durably.run.id': info.runId,
        'durably.step.name': info.step,
        'durably.step.id': info.stepId,
        'durably.step.attempt': info.attempt,
        'durably.step.max_attempts': info.maxAttempts,
        'durably.step.inline': info.inline,
      };
      if (info.workflow) attributes['durably.workflow'] = info.workflow;
      const span = tracer().startSpan(`durably.step ${info.step}`, { kind: otel.SpanKind.INTERNAL, attributes }, parent);
      const ctx = otel.trace.setSpan(parent, span);
      return {
        wrap: (fn) => otel.context.with(ctx, fn),
        end({ outcome, error }) {
          span.setAttribute('durably.step.outcome', outcome);
          if (outcome === 'failed' || outcome === 'retry') fail(otel, span, error);
          span.end();
        },
      };
    },
  };
}
