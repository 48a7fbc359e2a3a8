import { ConfigError, DurablyError } from '@durably/core';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { ApiError } from '../shared/api-types.js';

/**
 * startDashboard was asked to listen on an address other than the loopback without a token. Anyone
 * who can reach that address could cancel runs and resume hooks, so it refuses to start.
 */
export class DashboardTokenRequiredError extends ConfigError {
  constructor(readonly host: string) {
    super(
      `The dashboard refuses to listen on ${JSON.stringify(host)} without a token: on any address other than the loopback ` +
        `(127.0.0.1, ::1, localhost) every API request must carry "Authorization: Bearer <token>". ` +
        `Pass startDashboard({ token }) with a secret of at least 16 characters (for example: openssl rand -hex 32), or listen on 127.0.0.1.`,
    );
  }
}

/** HTTP status for each engine error a request can meet; anything else is a 500. */
const STATUS_BY_CODE: Partial<Record<string, ContentfulStatusCode>> = {
  INVALID_ARGUMENT: 400,
  INVALID_DURATION: 400,
  SERIALIZATION: 400,
  HOOK_PAYLOAD_INVALID: 400,
  ARGUMENT_VALIDATION: 400,
  RUN_NOT_FOUND: 404,
  SCHEDULE_NOT_FOUND: 404,
  HOOK_NOT_FOUND: 404,
  RUN_ALREADY_FINISHED: 409,
  HOOK_ALREADY_USED: 409,
  HOOK_EXPIRED: 409,
  PAYLOAD_TOO_LARGE: 413,
  STORAGE: 503,
  BROKER: 503,
};

/** An error raised by a route that is not an engine error but still the caller's doing. */
export class HttpError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** The response for an error thrown while handling a request. */
export function errorResponse(err: unknown): { status: ContentfulStatusCode; body: ApiError } {
  if (err instanceof HttpError) return { status: err.status, body: { error: { code: err.code, message: err.message } } };
  if (err instanceof DurablyError) {
    const status = STATUS_BY_CODE[err.code] ?? 500;
    return { status, body: { error: { code: err.code, message: err.message } } };
  }
  return { status: 500, body: { error: { code: 'INTERNAL', message: `The dashboard failed to answer: ${err instanceof Error ? err.message : String(err)}` } } };
}
