import { stepContext } from '@durably/core';
import { createTestEnv } from '@durably/testing';
import { expect, it } from 'vitest';
import { configureServices, serviceLedger } from '../src/services.js';
import { createShipment, processOrder } from '../src/workflows.js';

it('compensates a cancelled order before it ends as cancelled', async () => {
  configureServices({});
  const env = await createTestEnv({ workflows: [processOrder] });
  let shipping!: () => void;
  const started = new Promise<void>((r) => (shipping = r));
  // The carrier hangs until the run is cancelled (the step's abort signal fires).
  env.mockStep(createShipment, () => {
    shipping();
    return new Promise((_, reject) => stepContext().signal.addEventListener('abort', () => reject(new Error('aborted'))));
  });
  const run = await env.start(processOrder, { orderId: 'o-cancel', customer: 'c', address: 'a', items: [{ sku: 's', quantity: 1, unitCents: 100 }] });
  await started;
  await run.cancel('customer changed their mind');
  await expect(run.result()).rejects.toMatchObject({ name: 'CancelledError', reason: 'customer changed their mind' });
  expect(serviceLedger().filter((e) => e.orderId === 'o-cancel').map((e) => `${e.service} ${e.action}`)).toEqual(['payment charged', 'inventory reserved', 'inventory released', 'payment refunded']);
  await env.close();
});
