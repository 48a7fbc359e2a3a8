import {
  isEnvelope,
  parseEnvelope,
  type AppendRequest,
  type CreateRunResult,
  type DurablyEvent,
  type HookRecord,
  type NewRun,
  type PayloadCodec,
  type RunFilter,
  type RunPage,
  type RunRecord,
  type ScheduleRecord,
  type Serialized,
  type SerializedError,
  type Storage,
  type Timer,
} from '@durably/contracts';
import { codeEvents, codeNewRun, codePatch, codeRun, codeSchedule, type PayloadCoder } from './payload-fields.js';

/** The `name` an encrypted error is stored under (its real name, message and stack are in `sealed`). */
export const ENCRYPTED_ERROR_NAME = 'EncryptedError';

/**
 * A storage whose payloads are encrypted at rest: it wraps any storage (every adapter, unchanged),
 * encodes the payload fields (payload-fields.ts) of what it writes with `codec`, and decodes them in
 * everything it reads. Values written in clear before the codec was turned on are read as they are,
 * so a codec can be turned on for a running system. A payload whose key is missing makes the read
 * throw `PayloadKeyMissingError`; an altered one `PayloadDecryptError`.
 *
 * The hook index (`HookRecord`) and timers hold no payload and pass unchanged, so `resumeHook` finds
 * a hook by its index as before.
 */
export class EncryptedStorage implements Storage {
  private readonly encoder: PayloadCoder;
  private readonly decoder: PayloadCoder;
  /** Optional in the contract: present when the wrapped storage has it. */
  readonly subscribeFinished?: (listener: (runId: string) => void) => Promise<() => void>;
  /** Optional in the contract: the storage server's clock, when the wrapped storage has one (clients sync to it). */
  readonly serverTime?: () => Promise<number>;

  constructor(
    /** The storage that holds the encrypted data. */
    readonly inner: Storage,
    /** The codec that encrypts and decrypts. */
    readonly codec: PayloadCodec,
  ) {
    this.encoder = {
      text: async (value) => codec.encode(value),
      error: async (value) => sealError(await codec.encode(JSON.stringify(value))),
    };
    this.decoder = {
      text: async (value) => (isEnvelope(value) ? codec.decode(value) : value),
      error: async (value) => (value.sealed === undefined ? value : (JSON.parse(await codec.decode(value.sealed)) as SerializedError)),
    };
    if (inner.subscribeFinished) this.subscribeFinished = (listener) => inner.subscribeFinished!(listener);
    if (inner.serverTime) this.serverTime = () => inner.serverTime!();
  }

  migrate(): Promise<void> {
    return this.inner.migrate();
  }

  async createRun(run: NewRun): Promise<CreateRunResult> {
    const out = await this.inner.createRun(await codeNewRun(run, this.encoder));
    return { created: out.created, run: await codeRun(out.run, this.decoder) };
  }

  async getRun(runId: string): Promise<RunRecord | undefined> {
    return this.openRun(await this.inner.getRun(runId));
  }

  async getRunByIdempotencyKey(workflow: string, idempotencyKey: string): Promise<RunRecord | undefined> {
    return this.openRun(await this.inner.getRunByIdempotencyKey(workflow, idempotencyKey));
  }

  async listRuns(filter?: RunFilter): Promise<RunPage> {
    const page = await this.inner.listRuns(filter);
    return { ...page, runs: await Promise.all(page.runs.map((r) => codeRun(r, this.decoder))) };
  }

  async append(request: AppendRequest): Promise<void> {
    const coded: AppendRequest = { ...request, events: await codeEvents(request.events, this.encoder) };
    if (request.run) coded.run = await codePatch(request.run, this.encoder);
    return this.inner.append(coded);
  }

  async readEvents(runId: string, fromSeq?: number, limit?: number): Promise<DurablyEvent[]> {
    return codeEvents(await this.inner.readEvents(runId, fromSeq, limit), this.decoder);
  }

  touchRun(runId: string, at: number): Promise<void> {
    return this.inner.touchRun(runId, at);
  }

  claimDueTimers(now: number, options: { limit: number; leaseMs: number }): Promise<Timer[]> {
    return this.inner.claimDueTimers(now, options);
  }

  listTimers(runId: string): Promise<Timer[]> {
    return this.inner.listTimers(runId);
  }

  getHook(token: string): Promise<HookRecord | undefined> {
    return this.inner.getHook(token);
  }

  deleteFinishedRuns(finishedBefore: number, limit: number): Promise<number> {
    return this.inner.deleteFinishedRuns(finishedBefore, limit);
  }

  async saveSchedule(schedule: ScheduleRecord, expectedVersion?: number): Promise<boolean> {
    return this.inner.saveSchedule(await codeSchedule(schedule, this.encoder), expectedVersion);
  }

  async getSchedule(scheduleId: string): Promise<ScheduleRecord | undefined> {
    const s = await this.inner.getSchedule(scheduleId);
    return s && codeSchedule(s, this.decoder);
  }

  async listSchedules(): Promise<ScheduleRecord[]> {
    return Promise.all((await this.inner.listSchedules()).map((s) => codeSchedule(s, this.decoder)));
  }

  deleteSchedule(scheduleId: string): Promise<boolean> {
    return this.inner.deleteSchedule(scheduleId);
  }

  async claimDueSchedules(now: number, options: { limit: number; leaseMs: number }): Promise<ScheduleRecord[]> {
    return Promise.all((await this.inner.claimDueSchedules(now, options)).map((s) => codeSchedule(s, this.decoder)));
  }

  acquireSlot(key: string, runId: string, limit: number): Promise<boolean> {
    return this.inner.acquireSlot(key, runId, limit);
  }

  takePermit(key: string, limit: number, periodMs: number, now: number): Promise<number> {
    return this.inner.takePermit(key, limit, periodMs, now);
  }

  async putCheckpoint(runId: string, stepId: string, value: Serialized): Promise<void> {
    return this.inner.putCheckpoint(runId, stepId, await this.codec.encode(value));
  }

  async getCheckpoint(runId: string, stepId: string): Promise<Serialized | undefined> {
    const value = await this.inner.getCheckpoint(runId, stepId);
    return value === undefined ? undefined : this.decoder.text(value);
  }

  deleteCheckpoint(runId: string, stepId: string): Promise<void> {
    return this.inner.deleteCheckpoint(runId, stepId);
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  private async openRun(run: RunRecord | undefined): Promise<RunRecord | undefined> {
    return run && codeRun(run, this.decoder);
  }
}

/** The stored form of an encrypted error: a readable name and message, the error itself in `sealed`. */
function sealError(envelope: string): SerializedError {
  const keyId = parseEnvelope(envelope)?.keyId ?? 'unknown';
  return { name: ENCRYPTED_ERROR_NAME, message: `This error is encrypted (key "${keyId}"); read it through a client configured with that key.`, sealed: envelope };
}

/**
 * Wraps a storage so that the payloads it stores are encrypted with `codec` (see
 * {@link EncryptedStorage}); `client`s given a `codec` option do this themselves. A storage already
 * wrapped with the same codec is returned as it is.
 *
 * @example
 * ```ts
 * import { aesGcmCodec, encryptStorage, MemoryStorage } from '@durably/core';
 *
 * const storage = encryptStorage(new MemoryStorage(), aesGcmCodec({ keys: { k1: Buffer.alloc(32, 7) } }));
 * ```
 */
export function encryptStorage(storage: Storage, codec: PayloadCodec): Storage {
  if (storage instanceof EncryptedStorage && storage.codec === codec) return storage;
  return new EncryptedStorage(storage, codec);
}
