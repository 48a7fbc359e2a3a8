import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { docsFiles, includedFiles, WORKSPACE_ROOT } from '../../docs-check/src/files.js';
import { brokenLinks, htmlPages, unresolvedInserts } from '../src/links.js';

const site = join(WORKSPACE_ROOT, 'site');
const dist = join(site, '.vitepress/dist');
const temp = mkdtempSync(join(tmpdir(), 'durably-site-check-'));
afterAll(() => rmSync(temp, { recursive: true, force: true }));

function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: WORKSPACE_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d));
    child.stderr.on('data', (d: Buffer) => (output += d));
    child.on('exit', (code) => resolve({ code, output }));
  });
}

describe('the documentation site', () => {
  let build: { code: number | null; output: string };
  beforeAll(async () => {
    // What `npm run docs:build` runs: it installs the site's tooling into site/node_modules when it is
    // missing or its lockfile changed, generates the API reference, then builds the site.
    build = await run([join(site, 'run.mjs'), 'build']);
  });

  it('builds from docs/, with the API reference generated from the packages', () => {
    expect(build.code, build.output).toBe(0);
    for (const page of ['index.html', 'quick-start.html', 'concepts/replay.html', 'guides/deployment.html', 'samples/order-processing.html', 'coming-from/pyworkflow.html', 'api/index.html', 'api/core/index.html', 'api/core/classes/Client.html', 'api/testing/index.html']) {
      expect(existsSync(join(dist, page)), page).toBe(true);
    }
    // Backend pages written elsewhere join the sidebar once they exist.
    for (const backend of ['aws', 'rabbitmq']) {
      if (existsSync(join(WORKSPACE_ROOT, `docs/backends/${backend}.md`))) expect(existsSync(join(dist, `backends/${backend}.html`)), backend).toBe(true);
    }
  });

  it('has no broken link or anchor, in the pages, the navigation or the sidebars', () => {
    expect(build.code).toBe(0);
    const broken = brokenLinks(dist);
    expect(broken.map((b) => `${b.page}: ${b.href} (${b.why})`)).toEqual([]);
  });

  it('resolved every include and code snippet', () => {
    expect(build.code).toBe(0);
    expect(unresolvedInserts(dist)).toEqual([]);
  });

  it('is all type-checked by docs-check: every written page, and every file a page includes', () => {
    expect(build.code).toBe(0);
    const checked = new Set(docsFiles());
    const pages = htmlPages(dist)
      .map((f) => relative(dist, f))
      .filter((p) => p !== '404.html' && !p.startsWith('api/'))
      .map((p) => join(WORKSPACE_ROOT, 'docs', p.replace(/\.html$/, '.md')));
    expect(pages.length).toBeGreaterThan(40);
    for (const page of pages) {
      expect(existsSync(page), page).toBe(true);
      expect(checked.has(page), `${relative(WORKSPACE_ROOT, page)} is not checked by docs-check`).toBe(true);
      for (const included of includedFiles(page)) expect(checked.has(included), relative(WORKSPACE_ROOT, included)).toBe(true);
    }
  });
});

describe('the checks themselves', () => {
  it('a dead link fails the build: the site keeps VitePress\'s dead-link check on', async () => {
    // The same configuration over one page with a dead link.
    const { code, output } = await run([join(site, 'node_modules/vitepress/bin/vitepress.js'), 'build', site, '--outDir', join(temp, 'dead-link')], { DURABLY_SITE_SRC: join(import.meta.dirname, 'fixtures/dead-link') });
    expect(code, output).not.toBe(0);
    expect(output.replace(/\x1b\[[0-9;]*m/g, '')).toMatch(/Found dead link \.\/missing in file index\.md/);
  });

  it('finds links to missing pages and anchors, and snippets left unresolved', () => {
    const dir = join(import.meta.dirname, 'fixtures/built');
    expect(brokenLinks(dir)).toEqual([
      { page: 'index.html', href: '/guide/setup.html#uninstall', why: 'no id="uninstall" in guide/setup.html' },
      { page: 'index.html', href: 'missing.html', why: 'no missing.html in the build' },
    ]);
    expect(unresolvedInserts(dir).map((u) => u.href)).toEqual(['<<< ../../apps/gone.ts']);
  });
});
