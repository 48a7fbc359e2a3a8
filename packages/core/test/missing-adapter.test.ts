import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const run = promisify(execFile);
const fixtures = join(import.meta.dirname, 'fixtures');

/** Every adapter package is installed in this repository: the loader hook hides one, as on a machine without it. */
async function errorOf(kind: 'storage' | 'broker', url: string, hide: string): Promise<{ name: string; code: string; message: string }> {
  const { stdout } = await run(
    process.execPath,
    ['--import', 'tsx', '--import', pathToFileURL(join(import.meta.dirname, '../../../tools/scripts/hide-packages.mjs')).href, join(fixtures, 'adapter-from-url.ts'), kind, url],
    { env: { ...process.env, DURABLY_TEST_HIDE: hide, NODE_OPTIONS: '--conditions=@durably/source' }, timeout: 60_000 },
  );
  return JSON.parse(stdout.trim().split('\n').at(-1)!);
}

it('says which package to install for an adapter scheme whose package is missing', async () => {
  const storage = await errorOf('storage', 'dynamodb://table?region=eu-west-1', '@durably/aws');
  expect(storage).toMatchObject({ name: 'AdapterNotInstalledError', code: 'ADAPTER_NOT_INSTALLED' });
  expect(storage.message).toContain('npm install @durably/aws');
  const broker = await errorOf('broker', 'amqp://guest:secret@127.0.0.1:5672', '@durably/rabbitmq');
  expect(broker).toMatchObject({ name: 'AdapterNotInstalledError' });
  expect(broker.message).toContain('npm install @durably/rabbitmq');
  expect(broker.message).not.toContain('secret');
});
