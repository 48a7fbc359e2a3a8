/**
 * Durably on DynamoDB + SQS, on their emulators (DynamoDB Local, fauxqs), in a process of its own
 * inside a private network namespace: DynamoDB Local listens on all interfaces, so it runs only where
 * loopback is the only network. Run by aws.ts; prints `ROWS <json>` as its last line.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { b1, b2, b3, b4, b5, b6, type Backend, type Row } from './shapes.js';

process.removeAllListeners('warning');
process.on('warning', (w) => {
  if (!['MaxListenersExceededWarning', 'DeprecationWarning', 'NodeVersionSupportWarning'].includes(w.name)) process.stderr.write(`${w.name}: ${w.message}\n`);
});
// Imported after the listener: the SDK warns at load time that its 2027 releases need Node 22.
const { DeleteTableCommand, DynamoDBClient } = await import('@aws-sdk/client-dynamodb');
const { DynamoStorage, SqsBroker } = await import('@durably/aws');
// Emulator credentials; the SDK must never look for instance credentials (there is no network but loopback).
process.env.AWS_ACCESS_KEY_ID ??= 'bench';
process.env.AWS_SECRET_ACCESS_KEY ??= 'bench';
process.env.AWS_EC2_METADATA_DISABLED = 'true';
const REGION = 'us-east-1';

// The emulator launcher of the adapter's tests (not part of its published code).
const servers = (await import(pathToFileURL(join(import.meta.dirname, '../../../packages/aws/test/setup/servers.ts')).href)) as {
  startDynamoDbLocal(): Promise<{ endpoint: string; stop(): Promise<void> }>;
  startFauxqs(): Promise<{ endpoint: string; stop(): Promise<void> }>;
};

const [shapeList, sizesJson, tinyFlag] = process.argv.slice(2);
const shapes = new Set(shapeList.split(','));
const sizes = JSON.parse(sizesJson) as Record<'b1' | 'b2' | 'b3' | 'b4' | 'b5' | 'b6', number>;
const tiny = tinyFlag === 'tiny';

const dynamo = await servers.startDynamoDbLocal();
const sqs = await servers.startFauxqs();
const backend: Backend = {
  name: 'dynamodb+sqs (emulators)',
  open() {
    const id = randomBytes(4).toString('hex');
    const table = `durably-bench-${id}`;
    const storage = new DynamoStorage({ table, endpoint: dynamo.endpoint, region: REGION });
    const broker = new SqsBroker({ prefix: `bench-${id}`, endpoint: sqs.endpoint, region: REGION });
    return {
      storage,
      broker,
      usage: () => ({ dynamodb_read_units: storage.capacity.readUnits, dynamodb_write_units: storage.capacity.writeUnits, sqs_requests: broker.sqs.total }),
      close: async () => {
        const client = new DynamoDBClient({ endpoint: dynamo.endpoint, region: REGION });
        await client.send(new DeleteTableCommand({ TableName: table })).catch(() => undefined);
        client.destroy();
      },
    };
  },
};

const rows: Row[] = [];
const parts: Array<[string, () => Promise<Row[]>]> = [];
for (const mode of ['inline', 'dispatch'] as const) {
  if (shapes.has('B1')) parts.push([`B1 ${mode}`, () => b1(backend, mode, sizes.b1, 50)]);
  if (shapes.has('B2')) parts.push([`B2 ${mode}`, () => b2(backend, mode, sizes.b2)]);
  if (shapes.has('B5')) parts.push([`B5 ${mode}`, () => b5(backend, mode, sizes.b5)]);
}
if (shapes.has('B3')) {
  parts.push(['B3 1 s', () => b3(backend, sizes.b3, 1000)]);
  if (!tiny) parts.push(['B3 10 s', () => b3(backend, sizes.b3, 10_000)]);
  if (!tiny) parts.push(['B3 10 s beyond a 5 s window (woken through SQS)', () => b3(backend, sizes.b3, 10_000, 5_000)]);
}
if (shapes.has('B4')) {
  parts.push(['B4 sleep', () => b4(backend, sizes.b4, 'sleep')]);
  parts.push(['B4 hook', () => b4(backend, sizes.b4, 'hook')]);
}
if (shapes.has('B6')) parts.push(['B6', () => b6(backend, sizes.b6, 10)]);
let failed = 0;
for (const [label, run] of parts) {
  const t0 = Date.now();
  process.stderr.write(`  dynamodb+sqs ${label} … `);
  try {
    rows.push(...(await run()));
    process.stderr.write(`${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  } catch (err) {
    failed++;
    process.stderr.write(`failed: ${(err as Error).message}\n`);
  }
}
await sqs.stop();
await dynamo.stop();
console.log(`ROWS ${JSON.stringify(rows)}`);
process.exit(failed ? 1 : 0);
