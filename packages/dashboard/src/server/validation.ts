import { zValidator } from '@hono/zod-validator';
import type { ValidationTargets } from 'hono';
import { z, type ZodTypeAny } from 'zod';
import { InvalidAttributeError, MAX_SIGNAL_NAME, QUEUE_PATTERN, RUN_ID_PATTERN, SCHEDULE_ID_PATTERN, TAG_PATTERN, attributeValueFromText, checkAttributeFilter, type Attributes } from '@durably/core';
import { RUN_STATUS_LIST, type ApiError, type RunStatus } from '../shared/api-types.js';

/**
 * Input schemas of the HTTP API. Every route validates its path, query and body with one of these;
 * a request that fails gets 400 with the code INVALID_REQUEST, a message naming each bad field and
 * what it should be, and the issues one by one.
 */

/** Validates `target` with `schema`; on failure answers 400 with the issues named. */
export function validate<T extends keyof ValidationTargets, S extends ZodTypeAny>(target: T, schema: S) {
  return zValidator(target, schema, (result, c) => {
    if (result.success) return;
    const issues = result.error.issues.map((i) => ({ path: [target, ...i.path].join('.'), message: i.message }));
    const body: ApiError = {
      error: { code: 'INVALID_REQUEST', message: `Invalid request: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, issues },
    };
    return c.json(body, 400);
  });
}

// The name rules are the engine's (one place: @durably/contracts names.ts).
const RUN_ID = RUN_ID_PATTERN;
const TAG = TAG_PATTERN;
const QUEUE = QUEUE_PATTERN;

const runId = z.string().regex(RUN_ID, 'must be a run id: 1-128 letters, digits, "_", "-", "." or ":"');

/** ISO 8601 date-time or epoch milliseconds, as epoch milliseconds. */
const instant = z
  .string()
  .trim()
  .transform((text, ctx) => {
    const ms = /^\d+$/.test(text) ? Number(text) : Date.parse(text);
    if (!Number.isFinite(ms) || (!/^\d+$/.test(text) && !/^\d{4}-\d{2}-\d{2}/.test(text))) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `must be an ISO 8601 date-time (2024-05-01T10:00:00Z) or epoch milliseconds, got ${JSON.stringify(text)}` });
      return z.NEVER;
    }
    return ms;
  });

/** A comma-separated list, each item checked by `item`. */
function list<T extends ZodTypeAny>(item: T, what: string) {
  return z
    .string()
    .transform((text) => text.split(',').map((s) => s.trim()).filter((s) => s.length > 0))
    .pipe(z.array(item).min(1, `give at least one ${what}`).max(20, `at most 20 ${what}s`));
}

/** Splits `a=1,b="x,y"` at the commas outside double quotes. */
function splitOutsideQuotes(text: string): string[] {
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  for (const ch of text) {
    if (ch === '"') quoted = !quoted;
    if (ch === ',' && !quoted) {
      parts.push(current);
      current = '';
    } else current += ch;
  }
  parts.push(current);
  return parts.map((p) => p.trim()).filter((p) => p.length > 0);
}

/**
 * Search attributes to filter by: `key=value` pairs separated by commas, each value typed as the CLI
 * types it (true/false, numbers, "quoted" strings; see attributeValueFromText), checked by the engine's rules.
 */
const attributes = z.string().transform((text, ctx): Attributes => {
  const filter: Record<string, unknown> = {};
  for (const part of splitOutsideQuotes(text)) {
    const eq = part.indexOf('=');
    if (eq <= 0) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `each attribute is key=value (such as customer=c-42,amount=120), got ${JSON.stringify(part)}` });
      return z.NEVER;
    }
    filter[part.slice(0, eq).trim()] = attributeValueFromText(part.slice(eq + 1).trim());
  }
  try {
    return checkAttributeFilter(filter, 'attributes');
  } catch (err) {
    if (!(err instanceof InvalidAttributeError)) throw err;
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: err.message });
    return z.NEVER;
  }
});

const status = z.enum(RUN_STATUS_LIST as [RunStatus, ...RunStatus[]], {
  errorMap: () => ({ message: `must be one of ${RUN_STATUS_LIST.join(', ')}` }),
});

const runFilterFields = {
  workflow: z.string().min(1).max(200).optional(),
  tags: list(z.string().regex(TAG, 'a tag is 1-100 letters, digits, "_", ".", ":", "=", "/" or "-"'), 'tag').optional(),
  attributes: attributes.optional(),
  createdAfter: instant.optional(),
  createdBefore: instant.optional(),
  parent: runId.optional(),
};

export const runListQuery = z
  .object({
    ...runFilterFields,
    status: list(status, 'status').optional(),
    limit: z.coerce.number({ invalid_type_error: 'must be a number' }).int('must be a whole number').min(1, 'must be at least 1').max(1000, 'must be at most 1000').optional(),
    cursor: z.string().min(1).max(2000).optional(),
  })
  .strict();

export const countsQuery = z.object(runFilterFields).strict();

export const runParam = z.object({ runId });

export const eventsQuery = z
  .object({
    fromSeq: z.coerce.number().int().min(1, 'must be at least 1').optional(),
    limit: z.coerce.number().int().min(1).max(10_000, 'must be at most 10000').optional(),
  })
  .strict();

export const cancelBody = z.object({ reason: z.string().max(1000, 'must be at most 1000 characters').optional() }).strict();

/** A JSON payload: any JSON value (absent means undefined). */
const payload = z.unknown();

export const signalBody = z
  .object({
    name: z.string().min(1, 'must be the signal name').max(MAX_SIGNAL_NAME, `must be at most ${MAX_SIGNAL_NAME} characters`),
    payload,
  })
  .strict();

export const runHookBody = z
  .object({
    correlationId: z.string().min(1).max(300),
    payload,
  })
  .strict();

export const tokenHookBody = z
  .object({
    token: z.string().min(1, 'must be the hook token').max(200),
    payload,
  })
  .strict();

export const scheduleParam = z.object({ scheduleId: z.string().regex(SCHEDULE_ID_PATTERN, 'must be a schedule id: 1-128 letters, digits, "_", "-", "." or ":"') });

export const deadLettersQuery = z
  .object({
    queue: z.string().regex(QUEUE, 'must be a queue name: 1-100 letters, digits, "_", "-" or "."').optional(),
    limit: z.coerce.number().int().min(1).max(1000, 'must be at most 1000').optional(),
  })
  .strict();

export { QUEUE_PATTERN };
