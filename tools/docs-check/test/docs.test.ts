import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkMarkdown, dedupeImports, formatDiagnostics } from '../src/check.js';
import { extractBlocks, MarkerError } from '../src/extract.js';
import { WORKSPACE_ROOT, docsFiles, includedFiles } from '../src/files.js';
import { entryPoints, undocumentedExports } from '../src/tsdoc.js';

describe('the documentation', () => {
  it('type-checks every TypeScript block of README.md, the samples\' READMEs and the site\'s pages against the public entry points', () => {
    const files = docsFiles().map((f) => f.slice(WORKSPACE_ROOT.length + 1));
    expect(files).toEqual(expect.arrayContaining(['README.md', 'docs/index.md', 'docs/quick-start.md', 'docs/getting-started.md', 'docs/concepts/testing.md', 'apps/order-processing/README.md', 'apps/drip-campaign/README.md']));
    // The API reference is generated from the sources (which tsc checks), not written.
    expect(files.filter((f) => f.startsWith('docs/api/'))).toEqual([]);
    const result = checkMarkdown(WORKSPACE_ROOT, docsFiles());
    expect(result.checked).toBeGreaterThanOrEqual(30);
    // Each error as "file:line:column TScode: message", so a failure says where to look.
    expect(formatDiagnostics(result.diagnostics)).toBe('');
  });
});

describe('the files', () => {
  it('follow the pages\' includes, and refuse an include of a file that does not exist', () => {
    const dir = join(import.meta.dirname, 'fixtures/include');
    expect(includedFiles(join(dir, 'page.md'))).toEqual([join(dir, 'part.md')]);
    expect(() => includedFiles(join(dir, 'broken.md'))).toThrow(/includes \.\/nowhere\.md, which does not exist/);
  });
});

describe('the checker', () => {
  const fixture = join(import.meta.dirname, 'fixtures/sample.md');

  it('reports errors at their Markdown line, joins continued blocks, skips partial ones and compiles hidden context first', () => {
    const result = checkMarkdown(WORKSPACE_ROOT, [fixture]);
    expect(result).toMatchObject({ blocks: 5, checked: 4, partial: 1 });
    const found = result.diagnostics.map((d) => `${d.line}:${d.column} TS${d.code}`);
    expect(found).toEqual([
      '15:39 TS2345', // start(greet, 42): a number for a string, found through the block it continues
      '26:7 TS2322', // the hidden context declared `visitor`; the error is in the block
      '30:9 TS2322', // an indented block is checked too
    ]);
    expect(result.diagnostics.every((d) => d.file === 'tools/docs-check/test/fixtures/sample.md')).toBe(true);
  });

  it('refuses unknown markers and a continued block with nothing before it', () => {
    expect(() => extractBlocks('x.md', '```ts contined\nconst a = 1;\n```\n')).toThrow(MarkerError);
    const lone = checkMarkdown(WORKSPACE_ROOT, [join(import.meta.dirname, 'fixtures/lone-continued.md')]);
    expect(lone.diagnostics.map((d) => d.message)).toContain('a "continued" block needs a checked TypeScript block before it on the page');
  });

  it('drops imports an earlier block made, keeping line numbers', () => {
    const seen = new Set<string>();
    dedupeImports("import { a, b } from 'm';\n", seen);
    const out = dedupeImports("import { b, c } from 'm';\nimport {\n  a,\n} from 'm';\nuse(a, b, c);\n", seen);
    expect(out).toBe("import { c } from \"m\";\n\n\n\nuse(a, b, c);\n");
  });
});

describe('the report of exports without TSDoc', () => {
  it('lists the exports of each entry point whose declaration has no comment, following re-exports', () => {
    const root = join(import.meta.dirname, 'fixtures/tsdoc');
    expect(undocumentedExports(root).map((u) => `${u.packageName} ${u.name} ${u.kind} ${u.where}`)).toEqual([
      '@example/demo bareHelpers Namespace packages/demo/src/index.ts:25',
      '@example/demo Options Interface packages/demo/src/index.ts:12',
      '@example/demo renamed Variable packages/demo/src/other.ts:4',
      '@example/demo subtract Function packages/demo/src/index.ts:8',
    ]);
  });

  // The API reference shows each export's comment; an export without one is a blank entry there.
  // `npm run tsdoc -w @durably/docs-check` lists what is missing, with where it is declared.
  it('finds a comment on every public export of every package', () => {
    const entries = entryPoints(WORKSPACE_ROOT);
    expect(entries.length).toBeGreaterThanOrEqual(11);
    expect(undocumentedExports(WORKSPACE_ROOT, entries).map((u) => `${u.packageName} ${u.name} (${u.where})`)).toEqual([]);
  });
});
