/**
 * Finds the TypeScript blocks of a Markdown page and how each is to be checked.
 *
 * A fenced block whose language is `ts` or `typescript` is checked as a module of its own. Words
 * after the language change that (VitePress and GitHub ignore them when rendering):
 *
 * - ```` ```ts continued ```` is checked after the blocks before it on the page (back to the last
 *   block that is not `continued`), as one module: it may use what they declared and imported.
 * - ```` ```ts partial ```` is not checked: a deliberate excerpt (a fragment of a larger file, an
 *   option shape, code with `...`). Use it sparingly: a checked block is a promise that it compiles.
 *
 * An HTML comment right before a block (no blank line between) that starts with `docs-check:` is
 * hidden context for that block, compiled in front of it and never shown by a Markdown renderer:
 *
 *     <!-- docs-check:
 *     import { workflow } from '@durably/core';
 *     declare const order: string;
 *     -->
 *     ```ts
 *     ...
 */
export type BlockMode = 'check' | 'continued' | 'partial';

export interface CodeBlock {
  /** Path of the Markdown file, as given. */
  file: string;
  /** 1-based line in the Markdown file of the block's first line of code. */
  line: number;
  code: string;
  /** Columns the fence was indented by (stripped from the code; added back to reported columns). */
  indent: number;
  mode: BlockMode;
  /** Hidden context from a `<!-- docs-check: ... -->` comment right before the block. */
  context?: { code: string; line: number };
}

const FENCE = /^(\s*)(`{3,}|~{3,})\s*([A-Za-z0-9_+-]*)\s*(.*)$/;
const TYPESCRIPT = new Set(['ts', 'typescript', 'mts']);

export class MarkerError extends Error {}

export function extractBlocks(file: string, markdown: string): CodeBlock[] {
  const lines = markdown.split('\n');
  const blocks: CodeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i]);
    if (!open) continue;
    const [, indent, fence, lang, info] = open;
    const end = findClose(lines, i + 1, fence);
    if (TYPESCRIPT.has(lang.toLowerCase())) {
      const words = info.split(/\s+/).filter(Boolean);
      const unknown = words.filter((w) => w !== 'continued' && w !== 'partial' && !w.startsWith('{') && !w.startsWith('['));
      if (unknown.length > 0 || (words.includes('continued') && words.includes('partial'))) {
        throw new MarkerError(`${file}:${i + 1}: unknown docs-check marker "${info}" (use "continued" or "partial", see tools/docs-check/src/extract.ts)`);
      }
      const mode: BlockMode = words.includes('partial') ? 'partial' : words.includes('continued') ? 'continued' : 'check';
      const code = lines
        .slice(i + 1, end)
        .map((l) => (l.startsWith(indent) ? l.slice(indent.length) : l.trimStart()))
        .join('\n');
      const block: CodeBlock = { file, line: i + 2, code, indent: indent.length, mode };
      const context = contextBefore(lines, i);
      if (context) block.context = context;
      blocks.push(block);
    }
    i = end;
  }
  return blocks;
}

function findClose(lines: string[], from: number, fence: string): number {
  for (let j = from; j < lines.length; j++) {
    const t = lines[j].trim();
    if (t.startsWith(fence[0].repeat(fence.length)) && /^(`{3,}|~{3,})$/.test(t)) return j;
  }
  return lines.length;
}

/** A `<!-- docs-check: ... -->` comment that ends on the line right before the fence. */
function contextBefore(lines: string[], fenceLine: number): { code: string; line: number } | undefined {
  const close = fenceLine - 1;
  if (close < 0 || lines[close].trim() !== '-->') return undefined;
  for (let j = close - 1; j >= 0; j--) {
    const t = lines[j].trim();
    if (t.startsWith('<!--')) {
      if (!/^<!--\s*docs-check:\s*$/.test(t)) return undefined;
      return { code: lines.slice(j + 1, close).join('\n'), line: j + 2 };
    }
    if (t.includes('-->')) return undefined;
  }
  return undefined;
}
