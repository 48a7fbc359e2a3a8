import { build } from 'vite';

/**
 * Builds the web page before the tests, so that the server under test serves the page of these
 * sources (never a stale dist/ui left from an earlier build). Takes a second or two.
 */
export default async function setup(): Promise<void> {
  await build({ configFile: new URL('../vite.config.ts', import.meta.url).pathname, logLevel: 'warn' });
}
