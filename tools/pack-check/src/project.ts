import { cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import type { Tarball } from './pack.js';
import { run, runOk, type RunResult } from './run.js';
import { WORKSPACE_ROOT } from './workspace.js';

const require = createRequire(import.meta.url);
const TSC = require.resolve('typescript/bin/tsc');

/**
 * An empty npm project in `dir` whose dependencies are the tarballs (and @types/node, which any
 * TypeScript project on Node has), installed with npm the way a user installs a release. The
 * tarballs' own dependencies come from the registry (npm's cache first: --prefer-offline).
 */
export async function installTarballs(dir: string, tarballs: Tarball[]): Promise<RunResult> {
  const dependencies = Object.fromEntries(tarballs.map((t) => [t.name, `file:${relative(dir, t.path)}`]));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'a-user-project', version: '1.0.0', private: true, type: 'module', dependencies: { ...dependencies, '@types/node': '^20.19.0' } }, null, 2));
  // Install scripts are off: the ones in this tree compile native addons (better-sqlite3), minutes
  // on two cores, and are not what is under test. provideNativeAddons supplies their results.
  const result = await runOk('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--ignore-scripts', '--no-package-lock', '--loglevel=error'], { cwd: dir, timeoutMs: 300_000 });
  await provideNativeAddons(dir);
  return result;
}

/**
 * For each native addon installed (a package with a binding.gyp): the build this workspace made of
 * the same version, copied; a different version is built here (npm rebuild), as an install would.
 */
async function provideNativeAddons(dir: string): Promise<void> {
  for (const name of installedPackages(join(dir, 'node_modules'))) {
    const here = join(dir, 'node_modules', name);
    if (!existsSync(join(here, 'binding.gyp'))) continue;
    const ours = join(WORKSPACE_ROOT, 'node_modules', name);
    const version = (p: string) => (JSON.parse(readFileSync(join(p, 'package.json'), 'utf8')) as { version: string }).version;
    if (existsSync(join(ours, 'build', 'Release')) && version(ours) === version(here)) {
      cpSync(join(ours, 'build'), join(here, 'build'), { recursive: true });
    } else {
      await runOk('npm', ['rebuild', name, '--foreground-scripts', '--loglevel=error'], { cwd: dir, timeoutMs: 600_000 });
    }
  }
}

/** Names of the packages directly under a node_modules folder ("pg", "@durably/core"). */
export function installedPackages(nodeModules: string): string[] {
  return readdirSync(nodeModules).flatMap((entry) => {
    if (entry.startsWith('.')) return [];
    if (entry.startsWith('@')) return readdirSync(join(nodeModules, entry)).map((n) => `${entry}/${n}`);
    return [entry];
  });
}

/**
 * The tsconfig.json `tsc --init` writes, with the one change a Node project makes (TypeScript's own
 * advice when `process` is not found): "types": ["node"] instead of "types": []. Everything else is
 * TypeScript's default, strict, exactOptionalPropertyTypes, noUncheckedIndexedAccess and
 * verbatimModuleSyntax included.
 */
export async function tscInit(dir: string): Promise<void> {
  await runOk(process.execPath, [TSC, '--init'], { cwd: dir, timeoutMs: 60_000 });
  const file = join(dir, 'tsconfig.json');
  const text = readFileSync(file, 'utf8');
  if (!text.includes('"types": [],')) throw new Error(`tsc --init no longer writes "types": [] (the test sets it to ["node"]); tsconfig.json:\n${text}`);
  writeFileSync(file, text.replace('"types": [],', '"types": ["node"],'));
}

/** tsc over the project, emitting JavaScript next to each .ts; extra arguments override the tsconfig. */
export function tsc(dir: string, args: string[] = []): Promise<RunResult> {
  return run(process.execPath, [TSC, '-p', '.', '--pretty', 'false', ...args], { cwd: dir, timeoutMs: 300_000 });
}

/** tsc's diagnostics, one per entry, with the file (relative to the project) each is in. */
export function diagnostics(output: string): Array<{ file: string; text: string }> {
  return output
    .split('\n')
    .filter((l) => /error TS\d+/.test(l))
    .map((text) => ({ file: /^(.*?)\(\d+,\d+\)/.exec(text)?.[1] ?? '', text }));
}
