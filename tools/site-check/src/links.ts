/**
 * Follows every link of a built static site: a link to a page or file that is not in the build, or
 * to an anchor its page does not have, is broken. VitePress's own check (which fails the build)
 * covers Markdown links to pages; this covers what it does not: anchors, links written as HTML,
 * the navigation and sidebars, links to files, and links that resolve differently in the browser
 * than in the source tree.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

export interface BrokenLink {
  /** The page, relative to the build's root. */
  page: string;
  href: string;
  why: string;
}

const decode = (s: string) => s.replaceAll('&amp;', '&').replaceAll('&quot;', '"').replaceAll('&#39;', "'").replaceAll('&lt;', '<').replaceAll('&gt;', '>');

export function htmlPages(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const path = join(d, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith('.html')) out.push(path);
    }
  };
  walk(dir);
  return out.sort();
}

export function brokenLinks(distDir: string, base = '/'): BrokenLink[] {
  const ids = new Map<string, Set<string>>();
  const idsOf = (file: string) => {
    let set = ids.get(file);
    if (!set) {
      set = new Set([...readFileSync(file, 'utf8').matchAll(/\sid="([^"]+)"/g)].map((m) => decode(m[1])));
      ids.set(file, set);
    }
    return set;
  };
  const broken: BrokenLink[] = [];
  for (const file of htmlPages(distDir)) {
    const page = relative(distDir, file).split('\\').join('/');
    const html = readFileSync(file, 'utf8');
    const pageUrl = new URL(`http://site${base}${page}`);
    for (const m of html.matchAll(/\shref="([^"]*)"/g)) {
      const href = decode(m[1]);
      if (/^(https?:|mailto:|tel:|javascript:)/i.test(href) || href.startsWith('//')) continue;
      const url = new URL(href, pageUrl);
      if (url.host !== 'site') continue;
      if (!url.pathname.startsWith(base)) {
        broken.push({ page, href, why: `outside the site's base ${base}` });
        continue;
      }
      let path = decodeURIComponent(url.pathname.slice(base.length));
      if (path === '' || path.endsWith('/')) path += 'index.html';
      let target = join(distDir, path);
      if (!existsSync(target) && existsSync(`${target}.html`)) target = `${target}.html`;
      if (!existsSync(target) || statSync(target).isDirectory()) {
        broken.push({ page, href, why: `no ${path} in the build` });
        continue;
      }
      const hash = url.hash ? decodeURIComponent(url.hash.slice(1)) : '';
      if (hash && target.endsWith('.html') && !idsOf(target).has(hash)) broken.push({ page, href, why: `no id="${hash}" in ${relative(distDir, target)}` });
    }
  }
  return broken;
}

/** Text a build shows when a Markdown include or a code snippet (`<<< path`) named a file that does not exist. */
export function unresolvedInserts(distDir: string): BrokenLink[] {
  const found: BrokenLink[] = [];
  for (const file of htmlPages(distDir)) {
    const html = readFileSync(file, 'utf8');
    for (const m of html.matchAll(/(Code snippet path not found: [^<]*|@include:[^<]*|&lt;&lt;&lt; [^<]*)/g)) {
      found.push({ page: relative(distDir, file), href: decode(m[1]).trim(), why: 'a snippet or include that was not resolved' });
    }
  }
  return found;
}
