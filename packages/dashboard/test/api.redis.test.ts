import { describe } from 'vitest';
import { apiSuite } from './api-suite.js';
import { redisAvailable, redisBackend } from './backends.js';

const available = await redisAvailable();

describe.skipIf(!available)('redis', () => {
  apiSuite('Redis', redisBackend);
});
