import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { extractBlocks, type CodeBlock } from './extract.js';

export interface DocDiagnostic {
  /** The Markdown file, relative to the workspace root. */
  file: string;
  line: number;
  column: number;
  code: number;
  message: string;
}

export interface CheckResult {
  blocks: number;
  checked: number;
  partial: number;
  diagnostics: DocDiagnostic[];
}

/** One piece of a virtual module: a block's hidden context or its code, and where it is in the Markdown. */
interface Segment {
  firstLine: number;
  lineCount: number;
  mdLine: number;
  indent: number;
  reported: boolean;
}

interface VirtualModule {
  path: string;
  text: string;
  file: string;
  segments: Segment[];
}

/**
 * Type-checks the TypeScript blocks of Markdown files. Each checked block becomes a module (with the
 * blocks it continues and its hidden context in front) placed beside its Markdown file, so that
 * imports resolve like a reader's would: `@durably/*` through the workspace's node_modules to each
 * package's public entry point (its `exports`, with the `@durably/source` condition the workspace
 * builds and tests with), and a sample's README importing `./src/workflows.js` gets that sample's
 * code. The compiler options are the workspace's (tsconfig.base.json: strict,
 * NodeNext, verbatimModuleSyntax), so an example that compiles here compiles in the strictest
 * project a reader may have. One program checks every block at once.
 */
export function checkMarkdown(root: string, markdownFiles: string[]): CheckResult {
  const modules: VirtualModule[] = [];
  let blocks = 0;
  let partial = 0;
  const misplaced: DocDiagnostic[] = [];
  for (const md of markdownFiles) {
    const file = relative(root, md);
    const found = extractBlocks(file, readFileSync(md, 'utf8'));
    blocks += found.length;
    let chain: CodeBlock[] = [];
    for (const block of found) {
      if (block.mode === 'partial') {
        partial++;
        continue;
      }
      if (block.mode === 'continued' && chain.length === 0) {
        misplaced.push({ file, line: block.line - 1, column: 1, code: 0, message: 'a "continued" block needs a checked TypeScript block before it on the page' });
      }
      chain = block.mode === 'continued' ? [...chain, block] : [block];
      // Never written to disk: the compiler host below serves it.
      modules.push(compose(`${resolve(md)}.line-${block.line}.ts`, file, chain));
    }
  }
  const diagnostics = [...misplaced, ...compile(root, modules)].sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column);
  return { blocks, checked: modules.length, partial, diagnostics };
}

/** Joins a chain of blocks into one module; only the last block's lines report diagnostics. */
function compose(path: string, file: string, chain: CodeBlock[]): VirtualModule {
  const seen = new Set<string>();
  const parts: string[] = [];
  const segments: Segment[] = [];
  let line = 0;
  const add = (code: string, mdLine: number, indent: number, reported: boolean) => {
    const text = parts.length === 0 ? code : dedupeImports(code, seen);
    if (parts.length === 0) dedupeImports(code, seen); // records its imports
    const lineCount = text.split('\n').length;
    segments.push({ firstLine: line, lineCount, mdLine, indent, reported });
    parts.push(text);
    line += lineCount;
  };
  chain.forEach((block, i) => {
    const last = i === chain.length - 1;
    if (block.context) add(block.context.code, block.context.line, 0, last);
    add(block.code, block.line, block.indent, last);
  });
  // `export {}` makes every block a module (top-level await, no global names shared between blocks).
  return { path, text: parts.join('\n') + '\nexport {};\n', file, segments };
}

/**
 * Drops from `code` the imports of names an earlier piece of the module already imported (a
 * continued block often repeats them), keeping line numbers; records the imports it keeps.
 */
export function dedupeImports(code: string, seen: Set<string>): string {
  const source = ts.createSourceFile('piece.ts', code, ts.ScriptTarget.Latest, true);
  const edits: Array<{ start: number; end: number; text: string }> = [];
  for (const statement of source.statements) {
    if (!ts.isImportDeclaration(statement) || !ts.isStringLiteral(statement.moduleSpecifier)) continue;
    const from = statement.moduleSpecifier.text;
    const clause = statement.importClause;
    if (!clause) continue;
    const keep: string[] = [];
    let defaultName: string | undefined;
    const fresh = (key: string) => {
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    };
    if (clause.name && fresh(`${from}|default|${clause.name.text}`)) defaultName = clause.name.text;
    let namespace: string | undefined;
    const bindings = clause.namedBindings;
    if (bindings && ts.isNamespaceImport(bindings) && fresh(`${from}|*|${bindings.name.text}`)) namespace = bindings.name.text;
    let named = 0;
    if (bindings && ts.isNamedImports(bindings)) {
      for (const element of bindings.elements) {
        named++;
        if (fresh(`${from}|${(element.propertyName ?? element.name).getText()}|${element.name.text}`)) keep.push(element.getText());
      }
    }
    const total = (clause.name ? 1 : 0) + (bindings && ts.isNamespaceImport(bindings) ? 1 : 0) + named;
    const kept = (defaultName ? 1 : 0) + (namespace ? 1 : 0) + keep.length;
    if (kept === total) continue;
    const original = statement.getText(source);
    const pad = '\n'.repeat((original.match(/\n/g) ?? []).length);
    let text = '';
    if (kept > 0) {
      const head = [defaultName, namespace ? `* as ${namespace}` : undefined, keep.length ? `{ ${keep.join(', ')} }` : undefined].filter(Boolean).join(', ');
      text = `import ${clause.isTypeOnly ? 'type ' : ''}${head} from ${JSON.stringify(from)};`;
    }
    edits.push({ start: statement.getStart(source), end: statement.getEnd(), text: text + pad });
  }
  let out = code;
  for (const e of edits.reverse()) out = out.slice(0, e.start) + e.text + out.slice(e.end);
  return out;
}

function compile(root: string, modules: VirtualModule[]): DocDiagnostic[] {
  const configPath = join(root, 'tsconfig.base.json');
  const config = ts.readConfigFile(configPath, ts.sys.readFile);
  if (config.error) throw new Error(ts.flattenDiagnosticMessageText(config.error.messageText, '\n'));
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, dirname(configPath));
  const options: ts.CompilerOptions = { ...parsed.options, noEmit: true, declaration: false, declarationMap: false, sourceMap: false, composite: false, incremental: false };
  const byPath = new Map(modules.map((m) => [resolve(m.path), m]));
  const host = ts.createCompilerHost(options, true);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (fileName, languageVersion, onError, shouldCreate) => {
    const virtual = byPath.get(resolve(fileName));
    if (virtual) return ts.createSourceFile(fileName, virtual.text, languageVersion, true);
    return getSourceFile(fileName, languageVersion, onError, shouldCreate);
  };
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (fileName) => byPath.has(resolve(fileName)) || fileExists(fileName);
  const readFile = host.readFile.bind(host);
  host.readFile = (fileName) => byPath.get(resolve(fileName))?.text ?? readFile(fileName);
  const program = ts.createProgram({ rootNames: [...byPath.keys()], options, host });
  const out: DocDiagnostic[] = [];
  for (const diagnostic of ts.getPreEmitDiagnostics(program)) {
    const virtual = diagnostic.file && byPath.get(resolve(diagnostic.file.fileName));
    if (!virtual) {
      // An error outside the blocks (the options, a package's own source): report it, it is real.
      if (!diagnostic.file) out.push({ file: 'tsconfig.base.json', line: 1, column: 1, code: diagnostic.code, message: ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n') });
      continue;
    }
    const { line, character } = diagnostic.file!.getLineAndCharacterOfPosition(diagnostic.start ?? 0);
    // Lines of the blocks a block continues are reported by their own modules.
    const segment = virtual.segments.find((s) => line >= s.firstLine && line < s.firstLine + s.lineCount);
    if (!segment || !segment.reported) continue;
    out.push({
      file: virtual.file,
      line: segment.mdLine + (line - segment.firstLine),
      column: character + 1 + segment.indent,
      code: diagnostic.code,
      message: ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'),
    });
  }
  return out;
}

export function formatDiagnostics(diagnostics: DocDiagnostic[]): string {
  return diagnostics.map((d) => `${d.file}:${d.line}:${d.column} TS${d.code}: ${d.message}`).join('\n');
}
