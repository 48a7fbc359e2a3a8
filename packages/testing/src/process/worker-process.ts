/**
 * A worker process of the process scenarios, with the default settings a deployment has: it runs
 * `process.flow` on the storage and broker of DURABLY_STORAGE / DURABLY_BROKER.
 */
import { connect, createWorker } from '@durably/core';
import { effect, processFlow } from './flow.js';

const client = await connect();
const worker = createWorker({ client, workflows: [processFlow] });
await worker.start();
process.on('exit', (code) => effect(`exit code=${code}`));
effect('worker up');
