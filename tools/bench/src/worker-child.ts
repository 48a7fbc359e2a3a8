/**
 * A worker process of B8 (scale-out): createWorker on the storage and broker URLs it is given, with
 * the bench's workflows and B1's worker settings. Prints `READY` once it consumes; on SIGTERM it stops
 * (in-flight tasks finish) and exits. Started by scale-out.ts:
 *
 *   node --import tsx --conditions=@durably/source src/worker-child.ts <storage-url> <broker-url> <inline|dispatch>
 */
import { createClient, createWorker } from '@durably/core';
import { WORKFLOWS } from './shapes.js';

const [storage, broker, mode] = process.argv.slice(2);
if (!storage || !broker || (mode !== 'inline' && mode !== 'dispatch')) {
  process.stderr.write('usage: worker-child.ts <storage-url> <broker-url> <inline|dispatch>\n');
  process.exit(2);
}
const client = createClient({ storage, broker });
const worker = createWorker({ client, workflows: WORKFLOWS, concurrency: 64, stepMode: mode });
await worker.start();
process.stdout.write('READY\n');
process.once('SIGTERM', () => {
  void (async () => {
    await worker.stop();
    await client.close();
    process.exit(0);
  })();
});
