/** Installs `dir`'s dependencies from its package-lock.json unless that lockfile is installed already; true when it installed. */
export function ensureInstalled(dir: string, options?: { label?: string; quiet?: boolean }): boolean;
