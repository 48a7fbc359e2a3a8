import { randomBytes, randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { Client, PayloadKeyMissingError, Worker, aesGcmCodec, type Broker, type Storage } from '@durably/core';
import { waitFor } from '../wait.js';
import { encFailing, encFlow, encryptionWorkflows, holding, issued, release } from './workflows.js';

/** One place a backend keeps data (a table, a key, a file), read around the adapter, as text. */
export interface RawLocation {
  /** What it is: `table durably_events`, `key durably:run:r1`, `file durably.db`... */
  where: string;
  /** Its whole content as text (rows as JSON, a file's bytes as latin1). */
  text: string;
}

/** What a storage and broker pair gives `encryptionSuite`. */
export interface EncryptionHarness {
  /** A new storage and broker client on the backends under test. */
  connect(): Promise<{ storage: Storage; broker: Broker }>;
  /** Everything the backends hold for this harness, read directly (SQL, SCAN, a table scan, the file's bytes). */
  dump(): Promise<RawLocation[]>;
  /** Drops what the test left. */
  cleanup?(): Promise<void>;
}

const FAST = { timerSweepInterval: '100ms', recoveryInterval: '200ms', staleAfter: '1500ms', visibilityTimeout: '3s', concurrency: 20, scheduler: false } as const;

/**
 * Encryption at rest, end to end on one storage and broker: runs whose every payload carries a
 * marker, under a client with an AES-256-GCM codec, then the backends read raw: no marker anywhere,
 * the hook token nowhere but the hook index, and the runs' results back in clear through the client.
 * A reader without the key gets PayloadKeyMissingError naming it.
 */
export function encryptionSuite(name: string, createHarness: () => Promise<EncryptionHarness>): void {
  describe(`encryption at rest: ${name}`, () => {
    const closing: Array<{ stop?(): Promise<void>; close?(): Promise<void> }> = [];
    let harness: EncryptionHarness | undefined;
    afterEach(async () => {
      for (const c of closing.splice(0).reverse()) await (c.stop ? c.stop() : c.close!());
      await harness?.cleanup?.();
      harness = undefined;
    });

    it('keeps no payload and no hook token in clear in the backends', async () => {
      harness = await createHarness();
      const codec = aesGcmCodec({ keys: { k1: randomBytes(32) } });
      const client = new Client({ ...(await harness.connect()), codec });
      closing.push(client);
      await client.ensureReady();
      const worker = new Worker(client, { workflows: encryptionWorkflows, stepMode: 'dispatch', ...FAST });
      closing.push(worker);
      await worker.start();

      const marker = `MARKER${randomUUID().replaceAll('-', '')}`;
      const run = await client.start(encFlow, marker);
      const failing = await client.start(encFailing, marker);
      await client.schedules.create(`enc-${marker.slice(6, 18)}`, encFlow, { every: '1h', args: [marker], startAt: new Date(Date.now() + 86_400_000) });

      // While the held step runs, its checkpoint and heartbeat details are stored.
      await waitFor(() => holding.has(marker), 20_000);
      const held = holding.get(marker)!;
      await waitFor(async () => (await client.storage.getCheckpoint(held.runId, `heartbeat:${held.stepId}`)) !== undefined, 10_000);
      expect(await client.storage.getCheckpoint(held.runId, held.stepId)).toContain(`${marker}:checkpoint`);
      check(await harness.dump(), marker, []);
      release(marker);

      await waitFor(() => issued.has(marker), 20_000);
      const token = issued.get(marker)!;
      await client.resumeHook(token, { note: `${marker}:hook-payload` });
      await client.sendSignal(run.runId, 'enc.signal', `${marker}:signal-payload`);
      const result = await run.result({ timeout: '30s' });
      expect(result).toEqual({
        echoed: `${marker}:echoed`,
        stepError: expect.stringContaining(`${marker}:step-error`),
        recorded: 'string',
        fromHook: { note: `${marker}:hook-payload` },
        fromSignal: `${marker}:signal-payload`,
        child: `${marker}:child-result`,
        result: `${marker}:result`,
      });
      await expect(failing.result({ timeout: '30s' })).rejects.toThrow(`${marker}:run-error`);

      const raw = await harness.dump();
      check(raw, marker, [token]);
      // Read through the client, everything is in clear again.
      const events = await client.storage.readEvents(run.runId);
      expect(JSON.stringify(events)).toContain(`${marker}:hook-payload`);
      expect(events.find((e) => e.type === 'hook_created')?.data).toMatchObject({ token });
      expect((await client.storage.getRun(failing.runId))?.error?.message).toContain(`${marker}:run-error`);
      const schedule = (await client.schedules.list()).find((s) => s.workflow === 'enc.flow');
      expect(schedule?.args).toContain(marker);

      // A client without the key gets a typed error naming it, not garbage.
      const blind = new Client({ ...(await harness.connect()), codec: aesGcmCodec({ keys: { k2: randomBytes(32) } }) });
      closing.push(blind);
      await expect(blind.storage.readEvents(run.runId)).rejects.toThrow(PayloadKeyMissingError);
      const bare = new Client(await harness.connect());
      closing.push(bare);
      await expect(bare.getRun(run.runId).result()).rejects.toThrow(/encrypted \(aes256gcm, key "k1"\)/);
    });
  });
}

/** No location holds the marker or a secret (the hook index keeps hashes of the tokens); the dump is not empty of envelopes. */
function check(raw: RawLocation[], marker: string, secrets: string[]): void {
  expect(raw.length).toBeGreaterThan(0);
  const all = raw.map((l) => l.text).join('\n');
  expect(all).toContain('enc.flow'); // the dump reads the runs (names stay in clear)
  expect(all).toContain('enc:aes256gcm:k1:'); // and their payloads are envelopes
  expect(raw.filter((l) => l.text.includes(marker)).map((l) => l.where)).toEqual([]);
  for (const secret of secrets) expect(raw.filter((l) => l.text.includes(secret)).map((l) => l.where)).toEqual([]);
}
