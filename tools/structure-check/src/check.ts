import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';

/** The hard limit on a source file's length (docs: CONTRIBUTING.md; aim for ~400). */
export const MAX_LINES = 600;

const SOURCE = /\.(ts|tsx|mts|cts|js|jsx|mjs|cjs)$/;

export interface StructureReport {
  /** Every source file checked, relative to the root. */
  files: string[];
  /** Each import cycle: the files of one strongly connected component, and one loop through them. */
  cycles: Array<{ files: string[]; loop: string[] }>;
  /** Source files over MAX_LINES lines. */
  longFiles: Array<{ file: string; lines: number }>;
}

/**
 * Reads every source file under `<root>/packages/<name>/src`, resolves each import as the compiler
 * does (NodeNext, the workspace's "@durably/source" condition, so that `@durably/core` in an
 * adapter is core's src/index.ts, and `./x.js` is ./x.ts), and reports the cycles of that graph
 * and the files that are too long.
 *
 * An edge is any import the compiler sees: `import`, `import type` (a type dependency binds two
 * layers as much as a value one), `export ... from`, and `import('...')` with a literal specifier
 * (a lazy import still makes the importer depend on the imported).
 */
export function checkStructure(root: string, maxLines = MAX_LINES): StructureReport {
  const files = sourceFiles(root);
  const inTree = new Set(files);
  const options: ts.CompilerOptions = {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    customConditions: ['@durably/source'],
    allowJs: true,
    jsx: ts.JsxEmit.ReactJSX,
  };
  const host: ts.ModuleResolutionHost = ts.sys;
  const cache = ts.createModuleResolutionCache(root, (f) => f, options);
  const graph = new Map<string, string[]>();
  const longFiles: StructureReport['longFiles'] = [];

  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    const lines = text.endsWith('\n') ? text.split('\n').length - 1 : text.split('\n').length;
    if (lines > maxLines) longFiles.push({ file: relative(root, file), lines });
    const edges = new Set<string>();
    // ESM or CommonJS, from the extension and the nearest package.json, as the compiler decides it.
    const mode = ts.getImpliedNodeFormatForFile(file, cache.getPackageJsonInfoCache(), host, options);
    for (const ref of ts.preProcessFile(text, true, true).importedFiles) {
      const resolved = ts.resolveModuleName(ref.fileName, file, options, host, cache, undefined, mode).resolvedModule?.resolvedFileName;
      if (resolved && inTree.has(resolved) && resolved !== file) edges.add(resolved);
    }
    graph.set(file, [...edges].sort());
  }

  const cycles = stronglyConnected(graph)
    .filter((c) => c.length > 1)
    .map((component) => ({ files: component.map((f) => relative(root, f)).sort(), loop: loopThrough(component, graph).map((f) => relative(root, f)) }))
    .sort((a, b) => b.files.length - a.files.length || a.files[0].localeCompare(b.files[0]));
  return { files: files.map((f) => relative(root, f)), cycles, longFiles: longFiles.sort((a, b) => b.lines - a.lines) };
}

/** Every source file under packages/<name>/src, declaration files aside. */
function sourceFiles(root: string): string[] {
  const packages = join(root, 'packages');
  if (!existsSync(packages)) return [];
  return readdirSync(packages)
    .map((name) => join(packages, name, 'src'))
    .filter((dir) => existsSync(dir))
    .flatMap(walk)
    .filter((f) => SOURCE.test(f) && !/\.d\.[cm]?ts$/.test(f))
    .sort();
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' ? [] : walk(path);
    return [path];
  });
}

/** Tarjan's algorithm: the strongly connected components of the graph. */
function stronglyConnected(graph: Map<string, string[]>): string[][] {
  let index = 0;
  const indices = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const visit = (v: string): void => {
    indices.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!indices.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, indices.get(w)!));
    }
    if (low.get(v) === indices.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      components.push(component);
    }
  };
  for (const v of graph.keys()) if (!indices.has(v)) visit(v);
  return components;
}

/** One shortest loop from the component's first file back to it, inside the component. */
function loopThrough(component: string[], graph: Map<string, string[]>): string[] {
  const members = new Set(component);
  const start = [...component].sort()[0];
  const previous = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift()!;
    for (const w of graph.get(v) ?? []) {
      if (!members.has(w)) continue;
      if (w === start) {
        const path = [start];
        for (let at = v; at !== start; at = previous.get(at)!) path.splice(1, 0, at);
        return [...path, start];
      }
      if (!previous.has(w)) {
        previous.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start];
}

/** The report as a person reads it; empty when the structure is right. */
export function formatProblems(report: StructureReport, maxLines = MAX_LINES): string[] {
  return [
    ...report.cycles.map((c) => `import cycle among ${c.files.length} files: ${c.loop.join(' -> ')}${c.files.length > c.loop.length - 1 ? `\n  all files of the cycle: ${c.files.join(', ')}` : ''}`),
    ...report.longFiles.map((f) => `${f.file}: ${f.lines} lines, over the limit of ${maxLines} (split it by idea)`),
  ];
}
