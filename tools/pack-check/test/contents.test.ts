/** The contents and source-map checks of the pack test, shown to fail on wrong packages. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { contentProblems, sourceMapProblems } from '../src/contents.js';
import type { Manifest } from '../src/workspace.js';

describe('the contents check fails on a wrong package', () => {
  const manifest: Manifest = {
    name: '@durably/example',
    version: '1.0.0',
    main: './dist/index.js',
    types: './dist/index.d.ts',
    exports: { '.': { '@durably/source': './src/index.ts', types: './dist/index.d.ts', default: './dist/index.js' } },
  };
  const good = ['package.json', 'README.md', 'LICENSE', 'dist/index.js', 'dist/index.d.ts', 'src/index.ts'];

  it('accepts a right one', () => {
    expect(contentProblems(manifest, good)).toEqual([]);
  });

  it('names an export whose file is not shipped, the source condition included', () => {
    expect(contentProblems(manifest, good.filter((f) => f !== 'src/index.ts'))).toEqual([
      '@durably/example: exports[.].@durably/source points at ./src/index.ts, which the tarball does not hold',
    ]);
    expect(contentProblems(manifest, good.filter((f) => !f.startsWith('dist/')))).toContain('@durably/example: ships no dist/ (was it built before packing?)');
  });

  it('names files outside dist/src/bin, tests, a missing README or LICENSE, and types after default', () => {
    const problems = contentProblems(
      { ...manifest, exports: { '.': { default: './dist/index.js', types: './dist/index.d.ts' } } },
      [...good.filter((f) => f !== 'LICENSE'), 'tsconfig.json', 'src/index.test.ts'],
    );
    expect(problems).toEqual([
      '@durably/example: the tarball has no LICENSE',
      '@durably/example: ships tsconfig.json, outside dist/, src/, bin/ and package.json, README.md, LICENSE (narrow "files")',
      '@durably/example: ships the test file src/index.test.ts',
      '@durably/example: exports[.] lists "types" after "default"; TypeScript never reaches it',
    ]);
  });

  it('names a source map that points at a file the package does not hold', () => {
    const dir = mkdtempSync(join(tmpdir(), 'durably-pack-check-map-'));
    try {
      mkdirSync(join(dir, 'dist'));
      writeFileSync(join(dir, 'dist/index.js.map'), JSON.stringify({ version: 3, sources: ['../src/index.ts'], mappings: '' }));
      expect(sourceMapProblems(dir, 'x')).toEqual(['x: dist/index.js.map points at ../src/index.ts, which the package does not hold']);
      mkdirSync(join(dir, 'src'));
      writeFileSync(join(dir, 'src/index.ts'), '');
      expect(sourceMapProblems(dir, 'x')).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
