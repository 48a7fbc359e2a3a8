import { defineConfig } from 'vitest/config';
import { shared } from '../../vitest.shared.js';

export default defineConfig({
  ...shared,
  test: {
    ...shared.test,
    globalSetup: ['./test/build-ui.ts'],
    // The browser test and the three backends' API tests each start servers: one file at a time keeps a loaded 2-core machine responsive.
    fileParallelism: false,
  },
});
