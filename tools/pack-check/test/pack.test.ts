/**
 * Every publishable package as a user gets it: built and packed by npm pack, installed from the
 * tarballs into an empty project outside the workspace, type-checked with tsc --init's settings,
 * and the README's first example run there on the embedded default.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { contentProblems, sourceMapProblems } from '../src/contents.js';
import { runnableFirstExample, tsBlocks } from '../src/examples.js';
import { packAll, type Tarball } from '../src/pack.js';
import { diagnostics, installedPackages, installTarballs, tsc, tscInit } from '../src/project.js';
import { run, tail } from '../src/run.js';
import { copyWorkspace, publishablePackages, WORKSPACE_ROOT, type Manifest } from '../src/workspace.js';

const temp = mkdtempSync(join(tmpdir(), 'durably-pack-check-'));
const copy = join(temp, 'workspace');
const project = join(temp, 'project');
const packages = publishablePackages();
let tarballs: Tarball[] = [];
const timings: string[] = [];

async function timed<T>(what: string, fn: () => Promise<T>): Promise<T> {
  const started = Date.now();
  try {
    return await fn();
  } finally {
    timings.push(`${what}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
}

beforeAll(async () => {
  expect(relative(WORKSPACE_ROOT, temp).startsWith('..'), `the project must be outside the workspace: ${temp}`).toBe(true);
  await timed('copy the checkout', async () => copyWorkspace(copy));
  tarballs = await timed('build and npm pack', () => packAll(copy, packages, join(temp, 'tarballs')));
  mkdirSync(project);
  await timed('npm install the tarballs', () => installTarballs(project, tarballs));
  await tscInit(project);

  writeFileSync(join(project, 'example.ts'), runnableFirstExample(readFileSync(join(WORKSPACE_ROOT, 'README.md'), 'utf8')));
  // Every package's entry point, imported as a user would.
  const imports = tarballs.map((t, i) => `import * as p${i} from '${t.name}';`).join('\n');
  writeFileSync(join(project, 'all-packages.ts'), `${imports}\nexport const modules = [${tarballs.map((_, i) => `p${i}`).join(', ')}];\n`);
  // Every example of every package's README, read from the installed package.
  for (const t of tarballs) {
    tsBlocks(readFileSync(join(project, 'node_modules', t.name, 'README.md'), 'utf8')).forEach((block, i) => {
      writeFileSync(join(project, `readme-${t.name.replace(/^@durably\//, '')}-${i + 1}.ts`), block);
    });
  }
}, 900_000);

afterAll(() => {
  console.log(`pack-check timings:\n  ${timings.join('\n  ')}`);
  if (process.env.PACK_CHECK_KEEP) console.log(`kept: ${temp}`);
  else rmSync(temp, { recursive: true, force: true });
});

it('packs every publishable package, each holding its build, sources, README and LICENSE, and every file its manifest names', () => {
  expect(tarballs.map((t) => t.name).sort()).toEqual(packages.map((p) => p.manifest.name).sort());
  const problems = tarballs.flatMap((t) => {
    const manifest = JSON.parse(readFileSync(join(project, 'node_modules', t.name, 'package.json'), 'utf8')) as Manifest;
    return contentProblems(manifest, t.files);
  });
  expect(problems).toEqual([]);
  for (const t of tarballs) console.log(`${t.name}: ${t.files.length} files, ${(t.size / 1024).toFixed(0)} kB packed, ${(t.unpackedSize / 1024).toFixed(0)} kB unpacked`);
});

it('installs each workspace package once, from its tarball (none fetched from the registry instead)', () => {
  for (const t of tarballs) {
    const installed = JSON.parse(readFileSync(join(project, 'node_modules', t.name, 'package.json'), 'utf8')) as Manifest;
    expect(installed.version, t.name).toBe(t.version);
  }
  const nested = installedPackages(join(project, 'node_modules')).filter((name) => existsSync(join(project, 'node_modules', name, 'node_modules', '@durably')));
  expect(nested, 'packages holding a second copy of a @durably package').toEqual([]);
});

it("has source maps that point only at files the package holds", () => {
  const problems = tarballs.flatMap((t) => sourceMapProblems(join(project, 'node_modules', t.name), t.name));
  expect(problems).toEqual([]);
});

// One tsc run with tsc --init's settings and skipLibCheck off, which is stricter than the default
// (on): it also compiles the packages' declarations as the user's compiler sees them (a type of an
// uninstalled dependency is TS7016 there). It emits the JavaScript the next test runs.
it("compiles a user's code (the README examples, every package's entry point) and the packages' declarations with tsc --init's settings", async () => {
  const result = await timed('tsc', () => tsc(project, ['--skipLibCheck', 'false']));
  // Errors inside other libraries' declarations are theirs; ours and the user's files must be clean.
  const ours = diagnostics(result.stdout).filter((d) => d.file.startsWith('node_modules/@durably/') || !d.file.startsWith('node_modules/'));
  expect(ours.map((d) => d.text), tail(result.stdout + result.stderr)).toEqual([]);
  expect(existsSync(join(project, 'example.js')), tail(result.stdout + result.stderr)).toBe(true);
});

it("runs the README's first example on the embedded default and prints what the README says", async () => {
  const result = await timed('node example.js', () => run(process.execPath, ['example.js'], { cwd: project, timeoutMs: 120_000 }));
  const output = `${result.stdout}\n${result.stderr}`;
  expect(result.code, output).toBe(0);
  expect(result.stdout.trim().split('\n').at(-1), output).toBe('Onboarding complete');
  expect(existsSync(join(project, '.durably')), 'the embedded default writes ./.durably').toBe(true);
});

it('loads every package in Node and runs the durably command from its bin', async () => {
  const names = JSON.stringify(tarballs.map((t) => t.name));
  const load = await run(process.execPath, ['--input-type=module', '-e', `for (const n of ${names}) { const m = await import(n); if (Object.keys(m).length === 0) throw new Error(n + ' exports nothing'); }`], { cwd: project, timeoutMs: 60_000 });
  expect(load.code, load.stderr).toBe(0);
  if (!tarballs.some((t) => t.name === '@durably/cli')) return;
  const version = await run(join(project, 'node_modules/.bin/durably'), ['--version'], { cwd: project, timeoutMs: 60_000 });
  expect(version.code, version.stderr).toBe(0);
  expect(version.stdout.trim()).toContain(tarballs.find((t) => t.name === '@durably/cli')!.version);
});
