import { defineConfig, mergeConfig } from 'vitest/config';
import { shared } from '../../vitest.shared.js';

// Each test runs the real binary as subprocesses (about a second each on a loaded 2-core machine):
// tests get a generous timeout, and two files run at a time.
export default mergeConfig(defineConfig(shared), defineConfig({ test: { testTimeout: 120_000, hookTimeout: 120_000, maxWorkers: 2 } }));
