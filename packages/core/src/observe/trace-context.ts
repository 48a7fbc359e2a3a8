import type { TraceContext } from './instrumentation.js';

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** The parts of a W3C `traceparent` (version 00), or undefined when it is malformed or all-zero. */
export function parseTraceparent(value: string | undefined): { traceId: string; spanId: string; flags: number } | undefined {
  const m = value === undefined ? null : TRACEPARENT.exec(value);
  if (!m || /^0+$/.test(m[1]) || /^0+$/.test(m[2])) return undefined;
  return { traceId: m[1], spanId: m[2], flags: parseInt(m[3], 16) };
}

/** A W3C `traceparent` header value (version 00) from its parts: `00-<traceId>-<spanId>-<flags as 2 hex>`. */
export function formatTraceparent(traceId: string, spanId: string, flags: number): string {
  return `00-${traceId}-${spanId}-${(flags & 0xff).toString(16).padStart(2, '0')}`;
}

/** Reads a trace context stored in event data or a message (`traceparent`, `tracestate`). */
export function traceOf(data: { traceparent?: string; tracestate?: string } | undefined): TraceContext | undefined {
  if (!data?.traceparent || !parseTraceparent(data.traceparent)) return undefined;
  return data.tracestate ? { traceparent: data.traceparent, tracestate: data.tracestate } : { traceparent: data.traceparent };
}
