import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The workspace root (this project is tools/docs-check). */
export const WORKSPACE_ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');

/** Folders of docs/ that are generated, not written: the API reference TypeDoc writes from the sources. */
export const GENERATED_DOCS = ['docs/api'];

/**
 * Every Markdown file a reader meets: README.md, each sample's README (apps/<name>/README.md), and
 * every page of the documentation site (docs/, but the generated API reference), with the files
 * those pages include (`<!--@include: ...-->`, how the site shows the samples' READMEs). Sorted,
 * each once.
 */
export function docsFiles(root = WORKSPACE_ROOT): string[] {
  const out = new Set<string>([join(root, 'README.md')]);
  const apps = join(root, 'apps');
  if (existsSync(apps)) {
    for (const name of readdirSync(apps).sort()) {
      const readme = join(apps, name, 'README.md');
      if (existsSync(readme)) out.add(readme);
    }
  }
  const generated = new Set(GENERATED_DOCS.map((d) => join(root, d)));
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) {
        if (name !== 'node_modules' && !name.startsWith('.') && !generated.has(path)) walk(path);
      } else if (name.endsWith('.md')) out.add(path);
    }
  };
  walk(join(root, 'docs'));
  const pending = [...out];
  while (pending.length > 0) {
    for (const included of includedFiles(pending.pop()!, root)) {
      if (!out.has(included)) {
        out.add(included);
        pending.push(included);
      }
    }
  }
  return [...out].sort((a, b) => (a === join(root, 'README.md') ? -1 : b === join(root, 'README.md') ? 1 : relative(root, a).localeCompare(relative(root, b))));
}

/**
 * The Markdown files a page includes with VitePress's `<!--@include: path-->` (relative to the page,
 * or to docs/ with `@/`; a `#region` or `{lines}` suffix selects part of the file). A missing file
 * is an error: the site would show the include as it is.
 */
export function includedFiles(file: string, root = WORKSPACE_ROOT): string[] {
  const found: string[] = [];
  for (const m of readFileSync(file, 'utf8').matchAll(/<!--\s*@include:\s*(.+?)\s*-->/g)) {
    const target = m[1].replace(/(#[\w-]*)?(\{[\d,-]*\})?$/, '');
    const path = target.startsWith('@/') ? join(root, 'docs', target.slice(2)) : resolve(dirname(file), target);
    if (!existsSync(path)) throw new Error(`${relative(root, file)} includes ${m[1]}, which does not exist (${relative(root, path)}).`);
    if (path.endsWith('.md')) found.push(path);
  }
  return found;
}
