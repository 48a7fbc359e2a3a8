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
import { backoffDelay, resolveRetryPolicy, DEFAULT_RETRY } from '../src/engine/retry.js';

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
