/**
 * The SQS emulator of the dynamodb+sqs pair as a process of its own, so that the tool can crash it by
 * its PID: fauxqs (from @durably/aws's on-demand emulators project) on 127.0.0.1:<port>.
 *
 *   fauxqs-process.ts <port> <data directory>
 *
 * fauxqs keeps everything in memory and cannot persist across a restart. A real SQS keeps its
 * queues, so this process does what fauxqs cannot for them: it appends every CreateQueue request to
 * <data directory>/queues.jsonl before fauxqs handles it, and replays them on start (same names,
 * attributes and URLs). Messages are not kept: a restart loses every message, ready or in flight.
 * Prints `listening <endpoint>` once it accepts requests.
 */
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

interface Recorded {
  headers: Record<string, string>;
  payload: string;
}
interface App {
  addHook(name: 'preHandler', hook: (request: { headers: Record<string, string | string[] | undefined>; body: unknown }, reply: unknown, done: () => void) => void): void;
  inject(request: { method: 'POST'; url: string; headers: Record<string, string>; payload: string }): Promise<{ statusCode: number; body: string }>;
  listen(options: { port: number; host: string }): Promise<string>;
}

const [portArg, dataDir] = process.argv.slice(2);
if (!portArg || !dataDir) throw new Error('usage: fauxqs-process.ts <port> <data directory>');
const emulatorsModule = pathToFileURL(join(import.meta.dirname, '../../../packages/aws/test/setup/emulators.ts')).href;
const { loadEmulators } = (await import(emulatorsModule)) as { loadEmulators(inPrivateNetwork: boolean): Promise<{ buildApp(options: { logger: boolean }): unknown }> };
// Installed by the tool before it entered its network namespace: only loaded here.
const { buildApp } = await loadEmulators(true);
const app = buildApp({ logger: false }) as App;
const journal = join(dataDir, 'queues.jsonl');

// Hooks are added before the app boots (inject boots it).
let replaying = false;
app.addHook('preHandler', (request, _reply, done) => {
  if (!replaying && request.headers['x-amz-target'] === 'AmazonSQS.CreateQueue') {
    const headers: Record<string, string> = {};
    for (const name of ['host', 'content-type', 'x-amz-target', 'authorization']) {
      const v = request.headers[name];
      if (typeof v === 'string') headers[name] = v;
    }
    // Written before the queue exists: a crash right after the answer cannot lose it.
    appendFileSync(journal, `${JSON.stringify({ headers, payload: JSON.stringify(request.body) } satisfies Recorded)}\n`);
  }
  done();
});
// The queues made before the crash, made again (CreateQueue is idempotent for equal attributes).
const recorded = existsSync(journal) ? readFileSync(journal, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Recorded) : [];
replaying = true;
for (const r of recorded) {
  const res = await app.inject({ method: 'POST', url: '/', headers: r.headers, payload: r.payload });
  if (res.statusCode !== 200) process.stderr.write(`replaying CreateQueue: ${res.statusCode} ${res.body}\n`);
}
replaying = false;

const endpoint = await app.listen({ port: Number(portArg), host: '127.0.0.1' });
console.log(`listening ${endpoint} (${recorded.length} CreateQueue requests replayed)`);
