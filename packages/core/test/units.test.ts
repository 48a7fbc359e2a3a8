import { describe, expect, it } from 'vitest';
import {
  AdapterNotInstalledError,
  FatalError,
  InvalidArgumentError,
  InvalidDurationError,
  RetryableError,
  UnknownSchemeError,
  brokerFromUrl,
  step,
  storageFromUrl,
  workflow,
} from '@durably/core';
import { backoffDelay, decideRetry, resolveRetryPolicy, DEFAULT_RETRY } from '../src/engine/retry.js';
import { createHash } from 'node:crypto';
import { hookIndexKey, isHookIndexKey, isMultiUseToken, newHookToken } from '../src/engine/hook-token.js';

describe('retry policy', () => {
  it('computes exponential backoff with a cap', () => {
    const p = resolveRetryPolicy({ retries: 5, backoff: { initial: '1s', factor: 2, max: '3s', jitter: false } }, DEFAULT_RETRY, 'step');
    expect(p.maxAttempts).toBe(6);
    expect([1, 2, 3, 4].map((a) => backoffDelay(p, a))).toEqual([1000, 2000, 3000, 3000]);
  });
  it('jitters within [delay/2, delay]', () => {
    const p = resolveRetryPolicy({ backoff: { initial: 1000, jitter: true } }, DEFAULT_RETRY, 'step');
    expect(backoffDelay(p, 1, () => 0)).toBe(500);
    expect(backoffDelay(p, 1, () => 1)).toBe(1000);
  });
  it('rejects bad options at definition time', () => {
    expect(() => step('units.bad-retries', async () => 1, { retries: -1 })).toThrow(InvalidArgumentError);
    expect(() => step('units.bad-timeout', async () => 1, { timeout: 'never' })).toThrow(InvalidDurationError);
    expect(() => step('units.bad-queue', async () => 1, { queue: 'has space' })).toThrow(/queue/);
  });
  it('validates heartbeatTimeout, totalTimeout and unlimited retries', () => {
    expect(() => step('units.bad-heartbeat', async () => 1, { heartbeatTimeout: -5 })).toThrow(InvalidDurationError);
    expect(() => step('units.bad-total', async () => 1, { totalTimeout: 0 })).toThrow(/"totalTimeout" must be greater than 0/);
    expect(() => step('units.heartbeat-over-timeout', async () => 1, { heartbeatTimeout: '1m', timeout: '30s' })).toThrow(/must be shorter than "timeout"/);
    expect(() => workflow('units.heartbeat-default', async () => 1, { retry: { heartbeatTimeout: '30s' } })).toThrow(/"heartbeatTimeout" is a step option/);
    expect(() => step('units.bad-infinite', async () => 1, { retries: Infinity, backoff: { max: 0 } })).toThrow(/"retries: Infinity" needs "backoff.initial" and "backoff.max" greater than 0/);
    expect(() => step('units.spinning', async () => 1, { retries: Infinity, backoff: { initial: 0 } })).toThrow(/"retries: Infinity" needs/);
    expect(() => step('units.nan-retries', async () => 1, { retries: Number.NaN })).toThrow(InvalidArgumentError);
    const p = resolveRetryPolicy({ retries: Infinity, heartbeatTimeout: '10s', totalTimeout: '1h', backoff: { initial: '1s', max: '1m', jitter: false } }, DEFAULT_RETRY, 'step');
    expect(p).toMatchObject({ maxAttempts: Infinity, heartbeatTimeoutMs: 10_000, totalTimeoutMs: 3_600_000 });
    // Far past the point where factor^attempt overflows, the delay stays at the cap.
    expect([1, 7, 2000].map((a) => backoffDelay(p, a))).toEqual([1000, 60_000, 60_000]);
    expect(decideRetry(new Error('x'), 5000, p).retry).toBe(true);
    // totalTimeout: a retry that would start at or after the deadline is not made.
    expect(decideRetry(new Error('x'), 1, p, { firstStartedAt: 0, now: 3_599_500 })).toEqual({ retry: false });
    expect(decideRetry(new Error('x'), 1, p, { firstStartedAt: 0, now: 3_598_000 })).toEqual({ retry: true, delayMs: 1000 });
  });
  it('keeps RetryableError.retryAfter in ms', () => {
    expect(new RetryableError('x', { retryAfter: '2s' }).retryAfterMs).toBe(2000);
  });
});

describe('definitions', () => {
  it('validates names and refuses two different steps with one name', () => {
    expect(() => workflow('', async () => 1)).toThrow(InvalidArgumentError);
    step('units.same', async () => 1);
    expect(() => step('units.same', async () => 2)).toThrow(/Two different steps are named "units.same"/);
  });
});

describe('backends by URL', () => {
  it('names the known schemes and suggests the closest', async () => {
    const err = await storageFromUrl('postgress://localhost/db').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnknownSchemeError);
    expect((err as Error).message).toContain('Did you mean "postgres:"');
    await expect(brokerFromUrl('kafka://x')).rejects.toThrow(/Known: .*amqp:/);
  });
  it('hides passwords in messages', async () => {
    const err = await storageFromUrl('postgress://user:secret@host/db').catch((e: unknown) => e);
    expect((err as Error).message).not.toContain('secret');
  });
});

describe('hook tokens', () => {
  it('carry 192 random bits and never begin with "-", which a command line would read as an option', () => {
    const tokens = Array.from({ length: 5_000 }, newHookToken);
    // Without the leading letter about one token in 64 began with "-" (base64url's alphabet has it).
    expect(tokens.filter((t) => t.startsWith('-'))).toEqual([]);
    expect(new Set(tokens).size).toBe(tokens.length);
    for (const t of tokens.slice(0, 100)) {
      expect(t).toMatch(/^h[A-Za-z0-9_-]{32}$/);
      expect(Buffer.from(t.slice(1), 'base64url')).toHaveLength(24);
    }
  });

  it('say their kind in the first letter (m: multi-use); the index key is k and the SHA-256 of the whole token, never a token', () => {
    const multi = newHookToken(true);
    expect(multi).toMatch(/^m[A-Za-z0-9_-]{32}$/);
    expect(isMultiUseToken(multi)).toBe(true);
    expect(isMultiUseToken(newHookToken())).toBe(false);
    const key = hookIndexKey(multi);
    expect(key).toBe(`k${createHash('sha256').update(multi).digest('base64url')}`);
    expect(isHookIndexKey(key)).toBe(true);
    // Changing the letter makes another key: the kind of an indexed hook cannot be changed from outside.
    expect(hookIndexKey(`h${multi.slice(1)}`)).not.toBe(key);
    for (const token of [multi, newHookToken(), 'dGhpcyBpcyBhIDAuMS4wIHRva2VuIQ']) expect(isHookIndexKey(token)).toBe(false);
  });
});
