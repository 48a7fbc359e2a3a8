import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Hono } from 'hono';

/**
 * The web page's files, built by the package's build (vite) into dist/ui and shipped in the package.
 * They are read into memory once: a few hundred kilobytes, served without touching the disk again,
 * and only the files that are there can be asked for (no path from a request reaches the filesystem).
 */
export interface Assets {
  dir: string;
  files: Map<string, { body: Uint8Array; type: string; etag: string }>;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
};

/**
 * Where the built page is: beside the compiled server (dist/server -> dist/ui), or the package's
 * dist/ui when the server runs from its sources (src/ui holds the page's sources, not the build).
 */
export function defaultAssetsDir(): string {
  const compiled = fileURLToPath(import.meta.url).split(sep).includes('dist');
  return fileURLToPath(new URL(compiled ? '../ui/' : '../../dist/ui/', import.meta.url));
}

export function loadAssets(dir: string): Assets {
  const files: Assets['files'] = new Map();
  if (!existsSync(join(dir, 'index.html'))) return { dir, files };
  const walk = (at: string) => {
    for (const name of readdirSync(at)) {
      const full = join(at, name);
      if (statSync(full).isDirectory()) {
        walk(full);
        continue;
      }
      const body = readFileSync(full);
      const path = '/' + relative(dir, full).split(sep).join('/');
      files.set(path, { body, type: TYPES[extname(name)] ?? 'application/octet-stream', etag: `"${createHash('sha1').update(body).digest('base64url')}"` });
    }
  };
  walk(dir);
  return { dir, files };
}

/** Serves the page: hashed files under /assets for a year, and index.html for every other path (the page routes itself). */
export function mountAssets(app: Hono, assets: Assets): void {
  app.get('*', (c) => {
    const path = c.req.path;
    const index = assets.files.get('/index.html');
    if (!index) {
      return c.text(
        `The dashboard's web page is missing: no index.html in ${assets.dir}. Build the package (npm run build -w @durably/dashboard); the HTTP API under /api works without it.`,
        503,
      );
    }
    const file = assets.files.get(path) ?? (path.startsWith('/assets/') ? undefined : index);
    if (!file) return c.text('Not found', 404);
    const immutable = path.startsWith('/assets/') && file !== index;
    c.header('Content-Type', file.type);
    c.header('ETag', file.etag);
    c.header('Cache-Control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
    if (c.req.header('if-none-match') === file.etag) return c.body(null, 304);
    return c.body(file.body as Uint8Array<ArrayBuffer>, 200);
  });
}
