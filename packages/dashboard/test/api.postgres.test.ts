import { describe } from 'vitest';
import { apiSuite } from './api-suite.js';
import { postgresAvailable, postgresBackend } from './backends.js';

const available = await postgresAvailable();

describe.skipIf(!available)('postgres', () => {
  apiSuite('PostgreSQL', postgresBackend);
});
