import { defineConfig, mergeConfig } from 'vitest/config';
import { shared } from '../../vitest.shared.js';

// The test builds every publishable package from a copy of the checkout, packs them and installs the
// tarballs from the registry (cached by npm): about a minute on an idle 2-core machine, more when it
// is busy. Each child process has a bound of its own (src/run.ts); these bound the whole.
export default mergeConfig(defineConfig(shared), defineConfig({ test: { testTimeout: 300_000, hookTimeout: 420_000 } }));
