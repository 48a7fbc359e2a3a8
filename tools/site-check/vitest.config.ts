import { defineConfig, mergeConfig } from 'vitest/config';
import { shared } from '../../vitest.shared.js';

// The test builds the whole site (TypeDoc, then VitePress over about 250 pages): under a minute on
// an idle 2-core machine, a few when it is busy. The build is the behaviour under test, not its speed.
export default mergeConfig(defineConfig(shared), defineConfig({ test: { testTimeout: 600_000, hookTimeout: 600_000 } }));
