/**
 * B9's instrumented twin of the onboarding sample (apps/onboarding/src/main.ts): the same steps in the
 * same order (connect() from DURABLY_STORAGE / DURABLY_BROKER, createWorker, start(), the run's first
 * step), each stamped, with the modules loaded by dynamic imports so that their time is apart from
 * node's own start. Prints one line, `STAMPS <json>`, of epoch milliseconds. Started by cold-start.ts.
 */
const now = () => performance.timeOrigin + performance.now();
const stamps: Record<string, number> = { processStart: performance.timeOrigin, main: now() };

// The adapter packages connect() would import for these URLs, loaded here first to time them apart.
const ADAPTERS: Record<string, string> = { postgres: '@durably/postgres', redis: '@durably/redis', amqp: '@durably/rabbitmq', dynamodb: '@durably/aws', sqs: '@durably/aws' };
const core = await import('@durably/core');
stamps.coreLoaded = now();
const schemes = [process.env.DURABLY_STORAGE, process.env.DURABLY_BROKER].map((u) => /^([a-z]+):/i.exec(u ?? '')?.[1]?.toLowerCase() ?? '');
for (const pkg of new Set(schemes.map((s) => ADAPTERS[s]).filter(Boolean))) await import(pkg);
stamps.adaptersLoaded = now();
// The sample's own workflow module (outside this package: imported by its path).
const sample = new URL('../../../apps/onboarding/src/workflows.ts', import.meta.url).href;
const { onboarding } = (await import(sample)) as { onboarding: import('@durably/core').Workflow<[string, string], string> };
stamps.sampleLoaded = now();

const client = await core.connect();
stamps.connected = now();
const worker = core.createWorker({ workflows: [onboarding], client });
await worker.start();
stamps.workerStarted = now();
const run = await client.startWith(onboarding, ['user_123', '1ms'], { idempotencyKey: process.argv[2] ?? `cold-${Date.now()}` });
stamps.runStarted = now();
await run.result({ timeout: '120s' });
const events = await run.events();
stamps.runCreatedAt = events.find((e) => e.type === 'run_created')!.at;
stamps.firstStepAt = events.find((e) => e.type === 'step_completed')!.at;
await worker.stop();
await client.close();
stamps.stopped = now();
console.log(`STAMPS ${JSON.stringify(stamps)}`);
process.exit(0);
