import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  Client,
  ConfigError,
  MemoryBroker,
  MemoryBrokerHub,
  MemoryStorage,
  Worker,
  step,
  workflow,
  PayloadDecryptError,
  PayloadKeyMissingError,
  aesGcmCodec,
  codecFromEnv,
  deserialize,
  encryptStorage,
  errorToObject,
  isEnvelope,
  makeEvent,
  objectToError,
  parseEnvelope,
  resolveConfig,
  serialize,
  type PayloadCodec,
} from '../src/index.js';

const k1 = randomBytes(32);
const k2 = randomBytes(32);
const plain = serialize({ card: '4242 4242 4242 4242', at: new Date(0), tags: new Set(['a']) });

async function dec(codec: PayloadCodec, text: string): Promise<string> {
  return codec.decode(text);
}

describe('aesGcmCodec', () => {
  it('round-trips a payload in an envelope that names codec and key and holds no plaintext', async () => {
    const codec = aesGcmCodec({ keys: { k1 } });
    const sealed = await codec.encode(plain);
    expect(isEnvelope(sealed)).toBe(true);
    expect(parseEnvelope(sealed)).toMatchObject({ codec: 'aes256gcm', keyId: 'k1' });
    expect(sealed).not.toContain('4242');
    expect(await dec(codec, sealed)).toBe(plain);
    // A fresh IV each time: the same payload never encrypts to the same text.
    expect(await codec.encode(plain)).not.toBe(sealed);
  });

  it('takes keys as base64, base64url or bytes', async () => {
    const a = aesGcmCodec({ keys: { k1: k1.toString('base64') } });
    const b = aesGcmCodec({ keys: { k1: k1.toString('base64url') } });
    const c = aesGcmCodec({ keys: { k1: new Uint8Array(k1) } });
    expect(await dec(b, await a.encode(plain))).toBe(plain);
    expect(await dec(c, await b.encode(plain))).toBe(plain);
  });

  it('rotates: encrypts with the current key and still decrypts what older keys encrypted', async () => {
    const before = aesGcmCodec({ keys: { k1 } });
    const old = await before.encode(plain);
    const after = aesGcmCodec({ keys: { k1, k2 }, current: 'k2' });
    const fresh = await after.encode(plain);
    expect(parseEnvelope(fresh)?.keyId).toBe('k2');
    expect(await dec(after, old)).toBe(plain);
    expect(await dec(after, fresh)).toBe(plain);
    expect(after.keyIds).toEqual(['k1', 'k2']);
  });

  it('names the missing key and how to supply it', async () => {
    const sealed = await aesGcmCodec({ keys: { k1 } }).encode(plain);
    const other = aesGcmCodec({ keys: { k2 } });
    const err = await Promise.resolve().then(() => other.decode(sealed)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PayloadKeyMissingError);
    expect((err as PayloadKeyMissingError).keyId).toBe('k1');
    expect((err as Error).message).toMatch(/key "k1".*has "k2".*DURABLY_ENCRYPTION_KEYS/);
  });

  it('detects a wrong key under the right id, and any altered byte', async () => {
    const sealed = await aesGcmCodec({ keys: { k1 } }).encode(plain);
    const impostor = aesGcmCodec({ keys: { k1: k2 } });
    expect(() => impostor.decode(sealed)).toThrow(PayloadDecryptError);
    const codec = aesGcmCodec({ keys: { k1 } });
    const parts = parseEnvelope(sealed)!;
    const body = Buffer.from(parts.body, 'base64url');
    for (const at of [0, 12, body.length - 1]) {
      const bad = Buffer.from(body);
      bad[at] ^= 1;
      expect(() => codec.decode(`enc:aes256gcm:k1:${bad.toString('base64url')}`)).toThrow(PayloadDecryptError);
    }
    // The key id is authenticated: an envelope relabelled to another key id does not open.
    const both = aesGcmCodec({ keys: { k1, k2: k1 }, current: 'k1' });
    expect(() => both.decode(sealed.replace(':k1:', ':k2:'))).toThrow(/authentication failed/);
    expect(() => codec.decode('enc:aes256gcm:k1:AAAA')).toThrow(/truncated/);
  });

  it('refuses keys that are not 32 bytes, bad key ids, and an unknown or missing current key', () => {
    expect(() => aesGcmCodec({ keys: { k1: randomBytes(16) } })).toThrow(/is 16 bytes; AES-256 needs exactly 32/);
    expect(() => aesGcmCodec({ keys: { k1: 'not base64!' } })).toThrow(ConfigError);
    expect(() => aesGcmCodec({ keys: { 'bad id': k1 } })).toThrow(/key id "bad id" is not valid/);
    expect(() => aesGcmCodec({ keys: {} })).toThrow(/at least one key/);
    expect(() => aesGcmCodec({ keys: { k1, k2 } })).toThrow(/say which one encrypts new payloads/);
    expect(() => aesGcmCodec({ keys: { k1 }, current: 'k9' })).toThrow(/"k9" is not among the keys given \(k1\)/);
  });
});

describe('reading an envelope without its codec', () => {
  it('deserialize says the value is encrypted and with which key', async () => {
    const sealed = await aesGcmCodec({ keys: { k1 } }).encode(plain);
    expect(() => deserialize(sealed)).toThrow(PayloadKeyMissingError);
    expect(() => deserialize(sealed)).toThrow(/encrypted \(aes256gcm, key "k1"\) and this process has no payload codec/);
  });
});

describe('codecFromEnv', () => {
  const b64 = (b: Buffer) => b.toString('base64');
  it('builds the codec from DURABLY_ENCRYPTION_KEYS and DURABLY_ENCRYPTION_KEY_ID', async () => {
    expect(codecFromEnv({})).toBeUndefined();
    const codec = codecFromEnv({ DURABLY_ENCRYPTION_KEYS: `k1:${b64(k1)}, k2:${b64(k2)}`, DURABLY_ENCRYPTION_KEY_ID: 'k2' })!;
    expect(codec.currentKeyId).toBe('k2');
    expect(await dec(aesGcmCodec({ keys: { k2 } }), await codec.encode(plain))).toBe(plain);
    expect(codecFromEnv({ DURABLY_ENCRYPTION_KEYS: `solo:${b64(k1)}` })!.currentKeyId).toBe('solo');
  });
  it('says what is wrong with the variables, never showing key material', () => {
    expect(() => codecFromEnv({ DURABLY_ENCRYPTION_KEYS: b64(k1) })).toThrow(/the entry "\*\*\*", which is not <keyId>:<base64 key>/);
    expect(() => codecFromEnv({ DURABLY_ENCRYPTION_KEYS: `k1:${b64(k1)},k1:${b64(k2)}` })).toThrow(/"k1" twice/);
    expect(() => codecFromEnv({ DURABLY_ENCRYPTION_KEYS: `k1:${b64(k1)}`, DURABLY_ENCRYPTION_KEY_ID: 'k3' })).toThrow(/"k3" is not among the keys given.*from DURABLY_ENCRYPTION_KEYS and DURABLY_ENCRYPTION_KEY_ID/);
    expect(() => codecFromEnv({ DURABLY_ENCRYPTION_KEY_ID: 'k3' })).toThrow(/DURABLY_ENCRYPTION_KEYS is not set/);
    expect(() => codecFromEnv({ DURABLY_ENCRYPTION_KEYS: `k1:${b64(randomBytes(31))}` })).toThrow(/31 bytes/);
  });
  it('is what resolveConfig picks up, below a codec given in code', async () => {
    const env = { DURABLY_ENCRYPTION_KEYS: `k1:${b64(k1)}` };
    const fromEnv = await resolveConfig({ storage: 'memory:', broker: 'memory:' }, { env, noFile: true });
    expect(fromEnv.codec?.origin).toBe('DURABLY_ENCRYPTION_KEYS');
    expect(fromEnv.warnings).toEqual([]);
    const mine = aesGcmCodec({ keys: { k2 } });
    const explicit = await resolveConfig({ storage: 'memory:', broker: 'memory:', codec: mine }, { env, noFile: true });
    expect(explicit.codec?.value).toBe(mine);
  });
});

describe('encryptStorage', () => {
  it('stores payloads sealed, reads them back in clear, and reads values stored before encryption as they are', async () => {
    const inner = new MemoryStorage();
    const codec = aesGcmCodec({ keys: { k1 } });
    const storage = encryptStorage(inner, codec);
    const args = serialize(['secret-arg']);
    await storage.createRun({ runId: 'r1', workflow: 'w', queue: 'default', args, createdAt: 1, firstEvent: makeEvent('r1', 1, 'run_created', { workflow: 'w', args, queue: 'default' }) });
    const error = errorToObject(new Error('secret-error'));
    await storage.append({ runId: 'r1', expectedSeq: 1, events: [makeEvent('r1', 2, 'run_failed', { error })], run: { status: 'failed', error } });
    const raw = JSON.stringify([await inner.getRun('r1'), await inner.readEvents('r1')]);
    expect(raw).not.toContain('secret');
    expect((await inner.getRun('r1'))!.error!.name).toBe('EncryptedError');
    expect(objectToError((await inner.getRun('r1'))!.error!).message).toMatch(/encrypted \(key "k1"\)/);
    const run = (await storage.getRun('r1'))!;
    expect(run.args).toBe(args);
    expect(run.error).toEqual(error);
    const events = await storage.readEvents('r1');
    expect(events.map((e) => e.data)).toEqual([{ workflow: 'w', args, queue: 'default' }, { error }]);
    // A run written in clear (before the codec was turned on) reads as it was.
    await inner.createRun({ runId: 'r0', workflow: 'w', queue: 'default', args, createdAt: 0, firstEvent: makeEvent('r0', 1, 'run_created', { workflow: 'w', args, queue: 'default' }) });
    expect((await storage.getRun('r0'))!.args).toBe(args);
    // A reader with another key fails, naming the key; nothing is returned half-decrypted.
    const stranger = encryptStorage(inner, aesGcmCodec({ keys: { k2 } }));
    await expect(stranger.getRun('r1')).rejects.toThrow(PayloadKeyMissingError);
  });
});

describe('a worker without the key', () => {
  const sum = step('codec-test.sum', async (a: number, b: number) => a + b);
  const adder = workflow('codec-test.adder', async (a: number, b: number) => sum(a, b));
  const fast = { timerSweepInterval: '100ms', recoveryInterval: '200ms', staleAfter: '600ms', visibilityTimeout: '2s' } as const;

  for (const kind of ['a codec without that key', 'no codec'] as const) {
    it(`(${kind}) leaves the run as it is, and a worker with the key then runs it`, async () => {
      const storage = new MemoryStorage();
      const hub = new MemoryBrokerHub();
      const writer = new Client({ storage, broker: new MemoryBroker({ hub }), codec: aesGcmCodec({ keys: { k1 } }) });
      const handle = await writer.start(adder, 2, 3);
      const blind = new Client({ storage, broker: new MemoryBroker({ hub }), codec: kind === 'no codec' ? undefined : aesGcmCodec({ keys: { k2 } }) });
      const blindWorker = new Worker(blind, { workflows: [adder], ...fast });
      await blindWorker.start();
      await new Promise((r) => setTimeout(r, 800));
      await blindWorker.stop();
      expect((await storage.getRun(handle.runId))?.status).toBe('pending');
      expect((await storage.readEvents(handle.runId)).map((e) => e.type)).toEqual(['run_created']);
      const keyed = new Client({ storage, broker: new MemoryBroker({ hub }), codec: aesGcmCodec({ keys: { k1, k2 }, current: 'k2' }) });
      const worker = new Worker(keyed, { workflows: [adder], ...fast });
      await worker.start();
      try {
        expect(await keyed.getRun(handle.runId).result({ timeout: '10s' })).toBe(5);
      } finally {
        await worker.stop();
        await Promise.all([writer.close(), blind.close(), keyed.close()]);
      }
    });
  }
});

describe('configure({ codec })', () => {
  it('gives the default client the codec', async () => {
    const { configure } = await import('../src/index.js');
    const codec = aesGcmCodec({ keys: { k1 } });
    const client = configure({ storage: new MemoryStorage(), broker: new MemoryBroker({ hub: new MemoryBrokerHub() }), codec });
    expect(client.codec).toBe(codec);
    const { EncryptedStorage } = await import('../src/index.js');
    expect(client.storage).toBeInstanceOf(EncryptedStorage);
    await client.close();
  });
});
