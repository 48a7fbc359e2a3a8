import { apiSuite } from './api-suite.js';
import { localBackend } from './backends.js';

apiSuite('the local file backend', localBackend);
