import { readFileSync, readdirSync } from 'node:fs';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import {
  InvalidArgumentError,
  QUEUE_PATTERN,
  checkIdempotencyKey,
  checkName,
  checkNonEmpty,
  checkQueue,
  checkRunId,
  checkScheduleId,
  checkSignalName,
  checkTags,
} from '@durably/contracts';

describe('name rules', () => {
  it('accepts the names the engine has always accepted', () => {
    expect(() => checkName('Workflow', 'orders/charge:v2.1_a-b')).not.toThrow();
    expect(checkQueue('emails.high_prio-1', 'start()')).toBe('emails.high_prio-1');
    expect(checkTags(['env=prod', 'env=prod', 'team/a'], 'start()')).toEqual(['env=prod', 'team/a']);
    expect(checkTags(undefined, 'start()')).toEqual([]);
    expect(checkRunId('order-42:retry.1', 'start()')).toBe('order-42:retry.1');
    expect(checkScheduleId('nightly.report', 'schedule()')).toBe('nightly.report');
    expect(checkSignalName('approved', 'sendSignal')).toBe('approved');
    expect(checkIdempotencyKey('k'.repeat(256), 'start()')).toHaveLength(256);
  });

  it('refuses bad names with the owner, the value and the rule in the message', () => {
    expect(() => checkName('Step', '-leading')).toThrow(InvalidArgumentError);
    expect(() => checkName('Step', 'x'.repeat(201))).toThrow(/Step name .* is invalid: use 1-200 characters/);
    expect(() => checkQueue('has space', 'createWorker()')).toThrow(/^createWorker\(\): queue "has space" is invalid/);
    expect(QUEUE_PATTERN.test('a'.repeat(101))).toBe(false);
    expect(() => checkTags(Array.from({ length: 21 }, (_, i) => `t${i}`), 'workflow("w")')).toThrow(/at most 20 strings/);
    expect(() => checkTags(['bad tag'], 'start()')).toThrow(/"tags" must be/);
    expect(() => checkRunId('a/b', 'start()')).toThrow(/runId "a\/b" is invalid/);
    expect(() => checkScheduleId('_x', 'schedule()')).toThrow(/schedule\(\): id "_x" is invalid/);
    expect(() => checkSignalName('', 'waitForSignal')).toThrow('waitForSignal: name must be a non-empty string of at most 200 characters.');
    expect(() => checkIdempotencyKey('k'.repeat(257), 'start()')).toThrow('start(): idempotencyKey must be a non-empty string of at most 256 characters.');
    expect(() => checkNonEmpty('', 'patched(id): id')).toThrow('patched(id): id must be a non-empty string.');
  });
});

describe('the package stays light', () => {
  it('depends on devalue and ms only, and its sources import nothing else', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { dependencies: Record<string, string>; peerDependencies?: unknown };
    expect(Object.keys(pkg.dependencies).sort()).toEqual(['devalue', 'ms']);
    expect(pkg.peerDependencies).toBeUndefined();
    const dir = new URL('../src/', import.meta.url);
    const outside = new Set<string>();
    for (const file of readdirSync(dir)) {
      const text = readFileSync(new URL(file, dir), 'utf8');
      // The compiler's own reading of a file's imports: an `import` inside a TSDoc example is a comment.
      for (const { fileName: spec } of ts.preProcessFile(text, true, true).importedFiles) {
        if (!spec.startsWith('./')) outside.add(spec);
      }
    }
    expect([...outside].sort()).toEqual(['devalue', 'ms']);
  });
});
