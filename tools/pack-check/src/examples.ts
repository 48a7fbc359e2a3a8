/**
 * The TypeScript blocks of a Markdown file, as docs-check reads them: a block opened with
 * ```` ```ts continued ```` is joined to the one before it, ```` ```ts partial ```` is skipped.
 */
export function tsBlocks(markdown: string): string[] {
  const blocks: string[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(ts|typescript)\b\s*(.*)$/.exec(lines[i]);
    if (!open) continue;
    let end = i + 1;
    while (end < lines.length && !/^```\s*$/.test(lines[end])) end++;
    const body = lines.slice(i + 1, end).join('\n') + '\n';
    const flags = open[2].split(/\s+/);
    if (flags.includes('partial')) {
      // skipped, as docs-check does
    } else if (flags.includes('continued') && blocks.length > 0) blocks[blocks.length - 1] += body;
    else blocks.push(body);
    i = end;
  }
  return blocks;
}

/** The one change made to the README's first example: the day it sleeps becomes a second. */
export const SLEEP_DAY = "await sleep('1d');";
export const SLEEP_SECOND = "await sleep('1s');";

/**
 * The root README's first example, ready to run in a test: its `sleep('1d')` shortened to a second
 * (a test cannot wait a day). Throws if the example no longer has that sleep, so that a new example
 * fails this test loudly until the test knows how to run it.
 */
export function runnableFirstExample(readme: string): string {
  const first = tsBlocks(readme)[0];
  if (!first) throw new Error('README.md has no TypeScript block');
  if (!first.includes(SLEEP_DAY)) throw new Error(`README.md's first example no longer contains ${SLEEP_DAY}: update tools/pack-check/src/examples.ts to run it`);
  return first.replace(SLEEP_DAY, SLEEP_SECOND);
}
