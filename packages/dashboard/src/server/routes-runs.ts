import { RunNotFoundError, type Client, type RunFilter } from '@durably/core';
import { Hono } from 'hono';
import { RUN_STATUS_LIST, type ChainResponse, type RunPageResponse, type RunStatus, type StatusCountsResponse } from '../shared/api-types.js';
import { HttpError } from './errors.js';
import { buildRunDetail, eventView, summarize } from './run-view.js';
import { cancelBody, countsQuery, eventsQuery, runHookBody, runListQuery, runParam, signalBody, tokenHookBody, validate } from './validation.js';

export interface RunRoutesOptions {
  client: Client;
  /** Counting stops at this many runs per status (storages have no count: runs are paged through). */
  countCap: number;
  /** How long status counts are reused for the same filter (ms). */
  countTtlMs: number;
}

/** Runs: list, counts, one run with everything about it, its events, its chain; cancel, signal, resume a hook. */
export function runRoutes({ client, countCap, countTtlMs }: RunRoutesOptions): Hono {
  const app = new Hono();
  const counts = new Map<string, { at: number; value: Promise<StatusCountsResponse> }>();

  app.get('/runs', validate('query', runListQuery), async (c) => {
    const q = c.req.valid('query');
    const filter: RunFilter = { ...baseFilter(q), limit: q.limit ?? 50 };
    if (q.status) filter.status = q.status.length === 1 ? q.status[0] : q.status;
    if (q.cursor) filter.cursor = q.cursor;
    const page = await client.listRuns(filter);
    const body: RunPageResponse = { runs: page.runs.map(summarize) };
    if (page.nextCursor) body.nextCursor = page.nextCursor;
    return c.json(body);
  });

  app.get('/runs/counts', validate('query', countsQuery), async (c) => {
    const q = c.req.valid('query');
    const key = JSON.stringify(q);
    const now = Date.now();
    let entry = counts.get(key);
    if (!entry || now - entry.at > countTtlMs) {
      entry = { at: now, value: countByStatus(client, baseFilter(q), countCap) };
      counts.set(key, entry);
      entry.value.catch(() => counts.delete(key));
      for (const [k, e] of counts) if (now - e.at > countTtlMs) counts.delete(k);
    }
    return c.json(await entry.value);
  });

  app.get('/runs/:runId', validate('param', runParam), async (c) => {
    await client.ensureReady();
    return c.json(await buildRunDetail(client, c.req.valid('param').runId));
  });

  app.get('/runs/:runId/events', validate('param', runParam), validate('query', eventsQuery), async (c) => {
    const { runId } = c.req.valid('param');
    const { fromSeq, limit } = c.req.valid('query');
    await client.ensureReady();
    if (!(await client.storage.getRun(runId))) throw new RunNotFoundError(runId);
    const events = await client.storage.readEvents(runId, fromSeq ?? 1, limit ?? 1000);
    return c.json({ events: events.map(eventView) });
  });

  app.get('/runs/:runId/chain', validate('param', runParam), async (c) => {
    const chain = await client.getRunChain(c.req.valid('param').runId);
    return c.json({ runs: chain.map(summarize) } satisfies ChainResponse);
  });

  app.post('/runs/:runId/cancel', validate('param', runParam), validate('json', cancelBody), async (c) => {
    const { runId } = c.req.valid('param');
    await client.cancel(runId, c.req.valid('json').reason ?? 'cancelled from the dashboard');
    return c.json({ ok: true, runId }, 202);
  });

  app.post('/runs/:runId/signals', validate('param', runParam), validate('json', signalBody), async (c) => {
    const { runId } = c.req.valid('param');
    const { name, payload } = c.req.valid('json');
    await client.sendSignal(runId, name, payload);
    return c.json({ ok: true, runId }, 202);
  });

  // The page resumes a hook by its place in the run: the token stays on the server, never in a URL or the page.
  app.post('/runs/:runId/hooks/resume', validate('param', runParam), validate('json', runHookBody), async (c) => {
    const { runId } = c.req.valid('param');
    const { correlationId, payload } = c.req.valid('json');
    await client.ensureReady();
    if (!(await client.storage.getRun(runId))) throw new RunNotFoundError(runId);
    const created = (await client.storage.readEvents(runId)).find((e) => e.type === 'hook_created' && e.correlationId === correlationId);
    if (!created || created.type !== 'hook_created') throw new HttpError(404, 'HOOK_NOT_FOUND', `Run ${runId} has no hook at position ${JSON.stringify(correlationId)}; the run page lists its hooks.`);
    const resumed = await client.resumeHook(created.data.token, payload);
    return c.json({ ok: true, runId: resumed.runId });
  });

  // For callers that hold the token (a webhook relay, a script): the token goes in the body, not the URL.
  app.post('/hooks/resume', validate('json', tokenHookBody), async (c) => {
    const { token, payload } = c.req.valid('json');
    const resumed = await client.resumeHook(token, payload);
    return c.json({ ok: true, runId: resumed.runId });
  });

  return app;
}

function baseFilter(q: { workflow?: string; tags?: string[]; attributes?: RunFilter['attributes']; createdAfter?: number; createdBefore?: number; parent?: string }): RunFilter {
  const filter: RunFilter = {};
  if (q.workflow) filter.workflow = q.workflow;
  if (q.tags) filter.tags = q.tags;
  if (q.attributes && Object.keys(q.attributes).length > 0) filter.attributes = q.attributes;
  if (q.createdAfter !== undefined) filter.createdAfter = q.createdAfter;
  if (q.createdBefore !== undefined) filter.createdBefore = q.createdBefore;
  if (q.parent) filter.parentRunId = q.parent;
  return filter;
}

async function countByStatus(client: Client, filter: RunFilter, cap: number): Promise<StatusCountsResponse> {
  const entries = await Promise.all(
    RUN_STATUS_LIST.map(async (status): Promise<[RunStatus, { count: number; atLeast: boolean }]> => {
      let count = 0;
      let cursor: string | undefined;
      do {
        const page = await client.listRuns({ ...filter, status, limit: Math.min(1000, cap - count), cursor });
        count += page.runs.length;
        cursor = page.nextCursor;
      } while (cursor && count < cap);
      return [status, { count, atLeast: cursor !== undefined }];
    }),
  );
  return { counts: Object.fromEntries(entries) as StatusCountsResponse['counts'], cap };
}
