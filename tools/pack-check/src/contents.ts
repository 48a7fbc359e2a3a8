import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import type { Manifest } from './workspace.js';

/** What a tarball may hold at its top: its build, its sources (for the maps), its bin, and these. */
const ALWAYS = ['package.json', 'README.md', 'LICENSE'];
const FOLDERS = ['dist/', 'src/', 'bin/'];

/**
 * What is wrong with a package's tarball, given its manifest and the paths it holds (as npm pack
 * lists them, relative to the package root): files it must hold and does not, files it must not
 * hold, and every path its manifest points at (main, types, bin, and every condition of exports and
 * imports, @durably/source included) that is not in it. Empty when the tarball is right.
 */
export function contentProblems(manifest: Manifest, files: string[]): string[] {
  const problems: string[] = [];
  const shipped = new Set(files.map((f) => f.replace(/^\.\//, '')));
  const name = manifest.name;
  for (const file of ALWAYS) if (!shipped.has(file)) problems.push(`${name}: the tarball has no ${file}`);
  for (const file of shipped) {
    if (!ALWAYS.includes(file) && !FOLDERS.some((folder) => file.startsWith(folder))) {
      problems.push(`${name}: ships ${file}, outside dist/, src/, bin/ and ${ALWAYS.join(', ')} (narrow "files")`);
    }
    if (/\.test\.[cm]?[jt]sx?$/.test(file) || /(^|\/)(test|__tests__|fixtures)\//.test(file)) problems.push(`${name}: ships the test file ${file}`);
  }
  if (![...shipped].some((f) => f.startsWith('dist/'))) problems.push(`${name}: ships no dist/ (was it built before packing?)`);

  const targets: Array<[string, string]> = [];
  if (manifest.main) targets.push(['main', manifest.main]);
  if (manifest.types) targets.push(['types', manifest.types]);
  if (typeof manifest.bin === 'string') targets.push(['bin', manifest.bin]);
  else for (const [cmd, path] of Object.entries(manifest.bin ?? {})) targets.push([`bin.${cmd}`, path]);
  collectTargets('exports', manifest.exports, targets, problems, name);
  collectTargets('imports', manifest.imports, targets, problems, name);
  if (manifest.exports === undefined) problems.push(`${name}: has no "exports"`);
  for (const [where, target] of targets) {
    const path = target.replace(/^\.\//, '');
    const found = path.includes('*') ? [...shipped].some((f) => globMatch(path, f)) : shipped.has(path);
    if (!found) problems.push(`${name}: ${where} points at ${target}, which the tarball does not hold`);
    if (/(^|\.)types$/.test(where) && !/\.d\.[cm]?ts$/.test(path)) problems.push(`${name}: ${where} points at ${target}, not a declaration file`);
  }
  return problems;
}

/** Every leaf path of an exports or imports map, with where it is ("exports[.].types"). */
function collectTargets(where: string, value: unknown, out: Array<[string, string]>, problems: string[], name: string): void {
  if (value === undefined || value === null) return;
  if (typeof value === 'string') {
    out.push([where, value]);
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((v, i) => collectTargets(`${where}[${i}]`, v, out, problems, name));
    return;
  }
  if (typeof value === 'object') {
    const keys = Object.keys(value as object);
    // Conditions are tried in order: "types" after "default" is never reached by TypeScript.
    const types = keys.indexOf('types');
    const fallback = keys.indexOf('default');
    if (types >= 0 && fallback >= 0 && types > fallback) problems.push(`${name}: ${where} lists "types" after "default"; TypeScript never reaches it`);
    for (const key of keys) collectTargets(key.startsWith('.') || key.startsWith('#') ? `${where}[${key}]` : `${where}.${key}`, (value as Record<string, unknown>)[key], out, problems, name);
  }
}

function globMatch(pattern: string, file: string): boolean {
  const re = new RegExp(`^${pattern.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.+')}$`);
  return re.test(file);
}

/**
 * Source maps (.js.map, .d.ts.map) of an installed package whose sources are not in it: a map that
 * points at a file the user does not have sends a debugger or an editor nowhere.
 */
export function sourceMapProblems(packageDir: string, name: string): string[] {
  const problems: string[] = [];
  for (const map of walk(packageDir).filter((f) => f.endsWith('.map'))) {
    const { sources = [], sourceRoot = '' } = JSON.parse(readFileSync(map, 'utf8')) as { sources?: string[]; sourceRoot?: string };
    for (const source of sources) {
      const path = resolve(dirname(map), sourceRoot, source);
      const inside = relative(packageDir, path);
      if (inside.startsWith('..') || !existsSync(path)) problems.push(`${name}: ${relative(packageDir, map)} points at ${source}, which the package does not hold`);
    }
  }
  return problems;
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    if (e.name === 'node_modules') return [];
    const path = join(dir, e.name);
    return e.isDirectory() ? walk(path) : [path];
  });
}
