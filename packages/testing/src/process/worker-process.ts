/**
 * A worker process of the process scenarios, with the default settings a deployment has: it runs
 * `process.flow` on the storage and broker of DURABLY_STORAGE / DURABLY_BROKER. With STOP_GRACE set it
 * stops on SIGTERM with worker.stopOnSignals({ grace: STOP_GRACE }), as docs/concepts/shutdown.md says.
 */
import { connect, createWorker } from '@durably/core';
import { effect, processFlow } from './flow.js';

const client = await connect();
const worker = createWorker({ client, workflows: [processFlow] });
await worker.start();
if (process.env.STOP_GRACE) worker.stopOnSignals({ grace: process.env.STOP_GRACE });
process.on('exit', (code) => effect(`exit code=${code}`));
effect('worker up');
