// @ts-check
/**
 * The API reference: TypeDoc over the public entry point of every package (its src/index.ts, what
 * `import ... from '@durably/<name>'` gives), written as Markdown into docs/api/ by
 * typedoc-plugin-markdown, with links and a sidebar shaped for VitePress by typedoc-vitepress-theme.
 * One TypeScript program (tsconfig.json here) covers all packages, so a type one package re-uses
 * from another links to its one page instead of being documented twice.
 */
import { readdirSync, existsSync } from 'node:fs';

const packages = readdirSync(new URL('../packages/', import.meta.url)).filter((name) => existsSync(new URL(`../packages/${name}/src/index.ts`, import.meta.url)));

/** @type {Partial<import('typedoc').TypeDocOptions & import('typedoc-plugin-markdown').PluginOptions & Record<string, unknown>>} */
export default {
  entryPoints: packages.map((name) => `../packages/${name}/src/index.ts`),
  tsconfig: './tsconfig.json',
  plugin: ['typedoc-plugin-markdown', 'typedoc-vitepress-theme', './typedoc-package-names.mjs'],
  out: '../docs/api',
  docsRoot: '../docs',
  readme: 'none',
  name: 'API reference',
  entryFileName: 'index',
  // One page per package plus one per class, interface and type alias keeps the pages readable
  // without thousands of files (the build of the site stays fast).
  outputFileStrategy: 'members',
  membersWithOwnFile: ['Class', 'Interface'],
  excludeInternal: true,
  excludePrivate: true,
  excludeProtected: true,
  excludeExternals: true,
  disableSources: true,
  excludeScopesInPaths: true,
  hidePageHeader: true,
  hideBreadcrumbs: true,
  useCodeBlocks: true,
  // Anchors as TypeDoc names them (DEFAULT_LIMITS -> #default_limits), whatever VitePress's own heading slugs.
  useHTMLAnchors: true,
  // Comments say things like "<step>/<hook>": text, not HTML for VitePress's Vue compiler.
  sanitizeComments: true,
  parametersFormat: 'table',
  interfacePropertiesFormat: 'table',
  classPropertiesFormat: 'table',
  typeDeclarationFormat: 'table',
  enumMembersFormat: 'table',
  sidebar: { autoConfiguration: true, format: 'vitepress', pretty: true, collapsed: true },
  // The comments are checked by the report of exports without TSDoc (scripts/tsdoc-report.mjs),
  // not by TypeDoc's warnings, so that a missing comment does not fail the site build.
  validation: { notExported: false, invalidLink: true, notDocumented: false },
  treatValidationWarningsAsErrors: false,
  logLevel: 'Warn',
};
