import { expect, it } from 'vitest';
import { inPrivateNetwork, startDynamoDbLocal } from '../setup/servers.js';

// This project runs in the machine's network: DynamoDB Local (which binds every interface) must refuse to start here.
it('refuses to start DynamoDB Local outside a private network namespace', async () => {
  expect(inPrivateNetwork()).toBe(false);
  await expect(startDynamoDbLocal()).rejects.toThrow(/private network namespace/);
});
