import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import ts from 'typescript';

export interface Undocumented {
  /** The package, as users import it. */
  packageName: string;
  /** The exported name. */
  name: string;
  kind: string;
  /** Where it is declared, relative to the workspace root, with its line. */
  where: string;
}

/** Each package's public entry point (`packages/<name>/src/index.ts`) and its package name. */
export function entryPoints(root: string): Array<{ packageName: string; file: string }> {
  const dir = join(root, 'packages');
  return readdirSync(dir)
    .filter((name) => existsSync(join(dir, name, 'src/index.ts')))
    .sort()
    .map((name) => ({ packageName: (JSON.parse(readFileSync(join(dir, name, 'package.json'), 'utf8')) as { name: string }).name, file: join(dir, name, 'src/index.ts') }));
}

/**
 * The exports of the entry points that have no TSDoc comment (`/** ... *\/` on their declaration,
 * or on one of them for a merged or overloaded name; for `export * as name`, on that export line):
 * what the API reference would show without a description. Re-exports are followed to the declaration; a name exported by several packages is
 * reported for each.
 */
export function undocumentedExports(root: string, entries = entryPoints(root)): Undocumented[] {
  const config = ts.readConfigFile(join(root, 'tsconfig.base.json'), ts.sys.readFile);
  const { options } = ts.parseJsonConfigFileContent(config.config, ts.sys, root);
  const program = ts.createProgram({ rootNames: entries.map((e) => e.file), options: { ...options, noEmit: true } });
  const checker = program.getTypeChecker();
  const out: Undocumented[] = [];
  for (const { packageName, file } of entries) {
    const source = program.getSourceFile(file);
    const moduleSymbol = source && checker.getSymbolAtLocation(source);
    if (!moduleSymbol) continue;
    for (const exported of checker.getExportsOfModule(moduleSymbol)) {
      const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
      const declarations = symbol.declarations ?? [];
      // `export * as name from './x.js'`: the module has no declaration to carry a comment, so the
      // comment on that export line documents the namespace (as TypeDoc shows it).
      const namespaceExports = (exported.declarations ?? []).filter(ts.isNamespaceExport).map((d) => d.parent);
      const documented = symbol.getDocumentationComment(checker).length > 0 || [...declarations, ...namespaceExports].some((d) => ts.getJSDocCommentsAndTags(d).some((c) => ts.isJSDoc(c) && (c.comment !== undefined || (c.tags?.length ?? 0) > 0)));
      if (documented) continue;
      // A namespace is reported at its export line, where its comment goes.
      const first = namespaceExports[0] ?? declarations[0];
      const at = first ? `${relative(root, first.getSourceFile().fileName)}:${first.getSourceFile().getLineAndCharacterOfPosition(first.getStart()).line + 1}` : relative(root, dirname(file));
      out.push({ packageName, name: exported.getName(), kind: namespaceExports.length ? 'Namespace' : first ? ts.SyntaxKind[first.kind].replace(/Declaration$/, '') : 'unknown', where: at });
    }
  }
  return out.sort((a, b) => a.packageName.localeCompare(b.packageName) || a.name.localeCompare(b.name));
}
