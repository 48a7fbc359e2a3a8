import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuplicateNameError } from '@durably/contracts';

/**
 * Process-wide registries of names (steps, workflows, hooks). A name belongs to one definition: a
 * worker finds a dispatched step by its name, and a run's log names its workflow, so two different
 * definitions under one name would run the wrong code. The same definition made again from the
 * same place in the source (a module evaluated again: hot reload, a test that re-imports it) replaces
 * the old one; a definition from another place is refused with DuplicateNameError.
 */
export class NameRegistry<T> {
  private readonly entries = new Map<string, { value: T; fn: unknown; site?: string }>();

  constructor(private readonly kind: 'step' | 'workflow' | 'hook' | 'update') {}

  get(name: string): T | undefined {
    return this.entries.get(name)?.value;
  }

  /** Every registered name, sorted. */
  names(): string[] {
    return [...this.entries.keys()].sort();
  }

  /** Registers `value` under `name`; `fn` identifies the definition (same function: same definition). */
  register(name: string, fn: unknown, value: T): void {
    const site = definitionSite();
    const existing = this.entries.get(name);
    if (existing && existing.fn !== fn && (site === undefined || existing.site !== site)) {
      throw new DuplicateNameError(this.kind, name, existing.site, site);
    }
    this.entries.set(name, { value, fn, site });
  }
}

/** This package's source (or build) folder: frames inside it are the engine's, not the user's. */
const ownDir = dirname(fileURLToPath(import.meta.url));

/**
 * Where the user's code made the definition: the first stack frame outside this package, as
 * "file:line:column" (a query string, as cache-busting re-imports add, removed). Undefined when the
 * runtime gives no usable stack; then only the very same function counts as the same definition.
 */
function definitionSite(): string | undefined {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 50;
  const stack = new Error().stack ?? '';
  Error.stackTraceLimit = limit;
  for (const line of stack.split('\n').slice(1)) {
    const match = /\(?((?:file:\/\/|\/|[A-Za-z]:[\\/])[^()\s]*?):(\d+):(\d+)\)?$/.exec(line.trim());
    if (!match) continue;
    let file = match[1].replace(/\?[^:]*$/, '');
    if (file.startsWith('file://')) {
      try {
        file = fileURLToPath(file);
      } catch {
        continue;
      }
    }
    if (file.startsWith(ownDir)) continue;
    return `${file}:${match[2]}:${match[3]}`;
  }
  return undefined;
}
