import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

/**
 * Builds the web page (src/ui) into dist/ui: hashed JavaScript and CSS under /assets and an
 * index.html that loads them. Nothing is fetched from elsewhere at run time: Preact and the router
 * are bundled in, and the server serves these files itself.
 */
export default defineConfig({
  root: fileURLToPath(new URL('./src/ui', import.meta.url)),
  base: '/',
  logLevel: 'warn',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: fileURLToPath(new URL('./dist/ui', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    // The page loads one script: no preload helper injected inline.
    modulePreload: { polyfill: false },
  },
});
