import { mkdirSync } from 'node:fs';
import { cleanEnv, runOk } from './run.js';
import type { WorkspacePackage } from './workspace.js';

export interface Tarball {
  name: string;
  version: string;
  /** Absolute path of the .tgz. */
  path: string;
  /** Paths inside the package, as npm pack lists them. */
  files: string[];
  /** Bytes, packed and unpacked. */
  size: number;
  unpackedSize: number;
}

/**
 * `npm pack` of each package, from the workspace at `root`, into `dest`. npm runs each package's
 * prepack, which builds it (and what it depends on) through nx: the tarballs hold what a publish
 * would. One npm invocation for all, so npm starts once.
 */
export async function packAll(root: string, packages: WorkspacePackage[], dest: string): Promise<Tarball[]> {
  mkdirSync(dest, { recursive: true });
  const args = ['pack', '--json', '--pack-destination', dest, '--loglevel=error', ...packages.flatMap((p) => ['-w', `packages/${p.folder}`])];
  const { stdout } = await runOk('npm', args, { cwd: root, timeoutMs: 600_000, env: cleanEnv() });
  // The prepack scripts print to the same stdout; npm's JSON report is the last thing on it.
  const start = stdout.lastIndexOf('\n[\n') >= 0 ? stdout.lastIndexOf('\n[\n') + 1 : stdout.indexOf('[');
  const report = JSON.parse(stdout.slice(start)) as Array<{ name: string; version: string; filename: string; files: Array<{ path: string }>; size: number; unpackedSize: number }>;
  return report.map((r) => ({
    name: r.name,
    version: r.version,
    path: `${dest}/${r.filename}`,
    files: r.files.map((f) => f.path).sort(),
    size: r.size,
    unpackedSize: r.unpackedSize,
  }));
}
