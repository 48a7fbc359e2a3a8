import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { checkStructure, formatProblems, MAX_LINES } from '../src/check.js';

const WORKSPACE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

it(`finds no import cycle among the packages' sources and no source file over ${MAX_LINES} lines`, () => {
  const report = checkStructure(WORKSPACE_ROOT);
  expect(report.files.length).toBeGreaterThan(0);
  expect(formatProblems(report)).toEqual([]);
});

describe('the check, on a workspace made to fail it', () => {
  const root = mkdtempSync(join(tmpdir(), 'durably-structure-check-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const write = (path: string, text: string) => {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  };
  const lines = (n: number) => Array.from({ length: n }, (_, i) => `export const v${i} = ${i};`).join('\n') + '\n';
  // Two packages, linked by name as npm links workspaces, each resolving to its sources.
  for (const name of ['alpha', 'beta']) {
    write(`packages/${name}/package.json`, JSON.stringify({ name: `@fx/${name}`, type: 'module', exports: { '.': { '@durably/source': './src/index.ts', default: './dist/index.js' } } }));
    mkdirSync(join(root, 'node_modules/@fx'), { recursive: true });
    symlinkSync(join(root, 'packages', name), join(root, 'node_modules/@fx', name));
  }
  // A loop of three files through a type-only import, and one through a lazy import.
  write('packages/alpha/src/one.ts', "import { two } from './two.js';\nexport const one = two + 1;\n");
  write('packages/alpha/src/two.ts', "import type { Three } from './three.js';\nexport const two: Three = 2;\n");
  write('packages/alpha/src/three.ts', "export type Three = number;\nexport const load = () => import('./one.js');\n");
  // A loop across packages, through their names.
  write('packages/alpha/src/index.ts', "export { beta } from '@fx/beta';\nexport const alpha = 'a';\n");
  write('packages/beta/src/index.ts', "import { alpha } from '@fx/alpha';\nexport const beta = alpha + 'b';\n");
  // Files at the limit and past it; a chain that is not a loop.
  write('packages/beta/src/at-limit.ts', lines(MAX_LINES));
  write('packages/beta/src/too-long.tsx', lines(MAX_LINES + 1));
  write('packages/beta/src/leaf.ts', "import { v0 } from './at-limit.js';\nexport const leaf = v0;\n");

  const report = checkStructure(root);

  it('reads every source file of every package', () => {
    expect(report.files).toHaveLength(8);
  });

  it('finds each cycle, within a package and across packages, type-only and lazy imports included', () => {
    expect(report.cycles.map((c) => c.files)).toEqual([
      ['packages/alpha/src/one.ts', 'packages/alpha/src/three.ts', 'packages/alpha/src/two.ts'],
      ['packages/alpha/src/index.ts', 'packages/beta/src/index.ts'],
    ]);
    expect(report.cycles[0].loop).toEqual(['packages/alpha/src/one.ts', 'packages/alpha/src/two.ts', 'packages/alpha/src/three.ts', 'packages/alpha/src/one.ts']);
  });

  it(`finds the file over ${MAX_LINES} lines and only that one`, () => {
    expect(report.longFiles).toEqual([{ file: 'packages/beta/src/too-long.tsx', lines: MAX_LINES + 1 }]);
  });

  it('says what is wrong and fails the real-tree assertion on it', () => {
    const problems = formatProblems(report);
    expect(problems).toHaveLength(3);
    expect(problems[0]).toBe('import cycle among 3 files: packages/alpha/src/one.ts -> packages/alpha/src/two.ts -> packages/alpha/src/three.ts -> packages/alpha/src/one.ts');
    expect(problems[2]).toBe(`packages/beta/src/too-long.tsx: ${MAX_LINES + 1} lines, over the limit of ${MAX_LINES} (split it by idea)`);
    expect(() => expect(problems).toEqual([])).toThrow();
  });
});
