import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const WORKSPACE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** The fields of a package.json this check reads. */
export interface Manifest {
  name: string;
  version: string;
  private?: boolean;
  main?: string;
  types?: string;
  bin?: string | Record<string, string>;
  exports?: unknown;
  imports?: unknown;
  files?: string[];
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

export interface WorkspacePackage {
  /** Folder under packages/, e.g. "core". */
  folder: string;
  manifest: Manifest;
}

/**
 * Every package a user can install: each workspace under packages/ whose package.json is not
 * private, found anew on every run so that a package added later is packed and checked too.
 */
export function publishablePackages(root = WORKSPACE_ROOT): WorkspacePackage[] {
  const dir = join(root, 'packages');
  return readdirSync(dir)
    .filter((folder) => existsSync(join(dir, folder, 'package.json')))
    .map((folder) => ({ folder, manifest: JSON.parse(readFileSync(join(dir, folder, 'package.json'), 'utf8')) as Manifest }))
    .filter((p) => !p.manifest.private)
    .sort((a, b) => a.folder.localeCompare(b.folder));
}

/**
 * A copy of this checkout's packages and root files in `dest`: every file git knows of (tracked, or
 * new and not ignored), so
 * that the build and pack see exactly what a commit would hold, never a dist/ left by an earlier
 * build, and so that building here never rewrites the dist/ of packages whose own tests run at the
 * same time. Dependencies are not installed again: node_modules links to this checkout's, except
 * the workspace links (node_modules/@durably/*), which point into the copy.
 */
export function copyWorkspace(dest: string, root = WORKSPACE_ROOT): void {
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: root, encoding: 'utf8' })
    .split('\0')
    .filter(Boolean);
  for (const file of files) {
    // The packages and the root's settings are all a build and pack read; apps, tools and docs are not copied.
    if (file.includes('/') && !file.startsWith('packages/')) continue;
    if (!existsSync(join(root, file))) continue; // deleted in the working tree, not yet in git's index
    mkdirSync(dirname(join(dest, file)), { recursive: true });
    cpSync(join(root, file), join(dest, file));
  }
  linkNodeModules(join(root, 'node_modules'), join(dest, 'node_modules'), root, dest);
  // Versions a workspace needs that differ from the hoisted ones live in its own node_modules.
  for (const group of ['packages', 'apps', 'tools']) {
    if (!existsSync(join(root, group))) continue;
    for (const folder of readdirSync(join(root, group))) {
      const nested = join(root, group, folder, 'node_modules');
      if (existsSync(nested) && existsSync(join(dest, group, folder))) linkNodeModules(nested, join(dest, group, folder, 'node_modules'), root, dest);
    }
  }
}

/** `to` as a folder of links to the entries of `from`, workspace links redirected into the copy. */
function linkNodeModules(from: string, to: string, root: string, dest: string): void {
  mkdirSync(to, { recursive: true });
  for (const entry of readdirSync(from)) {
    const source = join(from, entry);
    if (entry.startsWith('@') && lstatSync(source).isDirectory()) {
      mkdirSync(join(to, entry), { recursive: true });
      for (const name of readdirSync(source)) symlinkSync(redirect(join(source, name), root, dest), join(to, entry, name));
    } else {
      symlinkSync(redirect(source, root, dest), join(to, entry));
    }
  }
}

/** Where a link of the copy points: into the copy for a workspace package, else at the original. */
function redirect(path: string, root: string, dest: string): string {
  if (!lstatSync(path).isSymbolicLink()) return path;
  const target = resolve(dirname(path), readlinkSync(path));
  const inside = relative(root, target);
  if (!inside.startsWith('..') && !inside.startsWith('node_modules') && existsSync(join(dest, inside))) return join(dest, inside);
  return path;
}
