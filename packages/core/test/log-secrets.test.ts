import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Client, MemoryBroker, MemoryStorage, Worker, defineHook, jsonLogger, sleep, step, stepHook, waitForSignal, workflow, type StepContext, context } from '../src/index.js';

// What a payload carries: it must never reach a log line at info.
const MARKER = 'SECRET-MARKER-7f3a';

const tokens = new Map<string, string[]>();
const hand = step('secrets.hand-out', async (runId: string, token: string, note: string) => {
  tokens.set(runId, [...(tokens.get(runId) ?? []), token]);
  return `${note} handed out`;
});
const approval = defineHook<{ note: string }>('secrets.approval', { schema: z.object({ note: z.string() }) });
const feed = defineHook<{ note: string }>('secrets.feed');
const reviewed = step('secrets.reviewed', async (note: string) => {
  const ctx = context() as StepContext;
  const verdict = await stepHook<{ note: string }>('secrets.review', { onToken: (t) => void tokens.set(ctx.runId, [...(tokens.get(ctx.runId) ?? []), t]) });
  return `${note} ${verdict.note}`;
});
const secretive = workflow('secrets.flow', async (note: string) => {
  const runId = context().runId;
  const single = approval.create({ timeout: '1h' });
  const multi = feed.create({ multiUse: true, timeout: '1h' });
  await hand(runId, single.token, note);
  await hand(runId, multi.token, note);
  const got = [(await single).note];
  for await (const item of multi) {
    got.push(item.note);
    if (got.length === 3) break;
  }
  got.push((await waitForSignal<string>('secrets.signal')) as string);
  got.push(await reviewed(note));
  await sleep(10);
  return got;
});

describe('logs at info', () => {
  it('never carry hook tokens or payloads (hook payloads, signals, step arguments and results, workflow arguments and results)', async () => {
    const lines: string[] = [];
    const logger = jsonLogger({ level: 'info', write: (line) => void lines.push(line) });
    const storage = new MemoryStorage();
    const broker = new MemoryBroker();
    const client = new Client({ storage, broker, logger });
    const worker = new Worker(client, { workflows: [secretive], logger });
    await worker.start();
    try {
      const run = await client.start(secretive, MARKER);
      await expect.poll(() => tokens.get(run.runId)?.length, { timeout: 10_000 }).toBe(2);
      const [single, multi] = tokens.get(run.runId)!;
      await client.resumeHook(single!, { note: `${MARKER}-a` });
      await client.resumeHook(multi!, { note: `${MARKER}-b` });
      await client.resumeHook(multi!, { note: `${MARKER}-c` });
      await client.sendSignal(run.runId, 'secrets.signal', `${MARKER}-d`);
      await expect.poll(() => tokens.get(run.runId)?.length, { timeout: 10_000 }).toBe(3);
      const stepToken = tokens.get(run.runId)![2]!;
      await expect.poll(async () => (await run.status()) === 'suspended', { timeout: 10_000 }).toBe(true);
      await client.resumeHook(stepToken, { note: `${MARKER}-e` });
      expect(await run.result({ timeout: '10s' })).toEqual([`${MARKER}-a`, `${MARKER}-b`, `${MARKER}-c`, `${MARKER}-d`, `${MARKER} ${MARKER}-e`]);
      // A spent token and a wrong one: the errors are logged by nobody, and say nothing of the token.
      const spent = await client.resumeHook(single!, { note: 'again' }).catch((e: Error) => e);
      expect(String(spent)).not.toContain(single);
    } finally {
      await worker.stop();
      await client.close();
    }
    const text = lines.join('');
    expect(lines.some((l) => l.includes('"run completed"'))).toBe(true);
    expect(text).not.toContain(MARKER);
    for (const token of tokens.values()) for (const t of token) expect(text).not.toContain(t);
  });
});
