import { ScheduleNotFoundError, type Client, type DeadLetter, type ScheduleRecord } from '@durably/core';
import { Hono } from 'hono';
import type { DeadLettersResponse, DeadLetterView, HealthResponse, ScheduleView } from '../shared/api-types.js';
import { renderSerialized } from './render.js';
import { deadLettersQuery, QUEUE_PATTERN, scheduleParam, validate } from './validation.js';

/**
 * The engine publishes a Durably queue's tasks on the broker queue "durably.<queue>" (core's
 * brokerQueue in worker/messages.ts, not exported from core's index): dead letters are read there.
 */
export function brokerQueueName(queue: string): string {
  return `durably.${queue}`;
}

export interface OpsRoutesOptions {
  client: Client;
  /** Queues whose dead letters are shown, besides those the schedules and the latest runs use. */
  queues: string[];
  version: string;
}

/** Schedules (list, one, pause, resume, trigger), dead letters per queue, health. */
export function opsRoutes({ client, queues, version }: OpsRoutesOptions): Hono {
  const app = new Hono();

  app.get('/schedules', async (c) => {
    await client.ensureReady();
    return c.json({ schedules: (await client.schedules.list()).map(scheduleView) });
  });

  app.get('/schedules/:scheduleId', validate('param', scheduleParam), async (c) => {
    await client.ensureReady();
    const { scheduleId } = c.req.valid('param');
    const s = await client.schedules.get(scheduleId);
    if (!s) throw new ScheduleNotFoundError(scheduleId);
    return c.json({ schedule: scheduleView(s) });
  });

  app.post('/schedules/:scheduleId/pause', validate('param', scheduleParam), async (c) => {
    const { scheduleId } = c.req.valid('param');
    await client.ensureReady();
    await client.schedules.pause(scheduleId);
    return c.json({ schedule: scheduleView((await client.schedules.get(scheduleId))!) });
  });

  app.post('/schedules/:scheduleId/resume', validate('param', scheduleParam), async (c) => {
    const { scheduleId } = c.req.valid('param');
    await client.ensureReady();
    await client.schedules.resume(scheduleId);
    return c.json({ schedule: scheduleView((await client.schedules.get(scheduleId))!) });
  });

  app.post('/schedules/:scheduleId/trigger', validate('param', scheduleParam), async (c) => {
    const runId = await client.schedules.trigger(c.req.valid('param').scheduleId);
    return c.json({ ok: true, runId }, 202);
  });

  app.get('/dead-letters', validate('query', deadLettersQuery), async (c) => {
    const q = c.req.valid('query');
    await client.ensureReady();
    const names = q.queue ? [q.queue] : await knownQueues(client, queues);
    const body: DeadLettersResponse = {
      queues: await Promise.all(
        names.map(async (queue) => {
          try {
            const letters = await client.broker.deadLetters(brokerQueueName(queue), q.limit ?? 100);
            return { queue, deadLetters: letters.map((d) => deadLetterView(queue, d)) };
          } catch (err) {
            return { queue, deadLetters: [], error: (err as Error).message };
          }
        }),
      ),
    };
    return c.json(body);
  });

  app.get('/health', async (c) => {
    const started = performance.now();
    let storage: HealthResponse['storage'];
    try {
      await client.ensureReady();
      await client.storage.listRuns({ limit: 1 });
      storage = { ok: true, ms: Math.round(performance.now() - started) };
    } catch (err) {
      storage = { ok: false, ms: Math.round(performance.now() - started), error: (err as Error).message };
    }
    c.header('Cache-Control', 'no-store');
    return c.json({ ok: storage.ok, storage, version } satisfies HealthResponse, storage.ok ? 200 : 503);
  });

  return app;
}

/** The configured queues, plus those the schedules and the latest runs use, in a stable order. */
async function knownQueues(client: Client, configured: string[]): Promise<string[]> {
  const found = new Set(configured);
  for (const s of await client.schedules.list()) found.add(s.queue);
  for (const r of (await client.listRuns({ limit: 200 })).runs) found.add(r.queue);
  return [...found].filter((q) => QUEUE_PATTERN.test(q)).sort();
}

export function scheduleView(s: ScheduleRecord): ScheduleView {
  const view: ScheduleView = {
    scheduleId: s.scheduleId,
    workflow: s.workflow,
    queue: s.queue,
    args: renderSerialized(s.args),
    spec: s.spec,
    overlap: s.overlap,
    catchUp: s.catchUp,
    paused: s.paused,
    stats: s.stats ?? { fired: 0, skipped: 0, running: [] },
    history: s.history ?? [],
    createdAt: s.createdAt,
    updatedAt: s.updatedAt,
  };
  for (const key of ['nextFireAt', 'lastFireAt', 'lastRunId', 'endAt', 'jitterMs'] as const) {
    if (s[key] !== undefined) (view as unknown as Record<string, unknown>)[key] = s[key];
  }
  return view;
}

function deadLetterView(queue: string, d: DeadLetter): DeadLetterView {
  const view: DeadLetterView = { id: d.id, queue, brokerQueue: d.queue, reason: d.reason, deliveryCount: d.deliveryCount, at: d.at, body: d.body.slice(0, 4000) };
  try {
    const task = JSON.parse(d.body) as Record<string, unknown>;
    if (task && typeof task === 'object' && typeof task.kind === 'string') {
      const pick = (k: string) => (typeof task[k] === 'string' ? (task[k] as string) : undefined);
      view.task = { kind: task.kind, runId: pick('runId'), stepId: pick('stepId'), name: pick('name'), reason: pick('reason') };
    }
  } catch {
    // Not the engine's envelope (that may be why it was dead-lettered): the body is shown as it is.
  }
  return view;
}
