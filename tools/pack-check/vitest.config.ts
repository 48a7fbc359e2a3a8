import { defineConfig, mergeConfig } from 'vitest/config';
import { shared } from '../../vitest.shared.js';

// The test builds every publishable package from a copy of the checkout, packs them and installs the
// tarballs from the registry (cached by npm): about 90 s of CPU in all (two thirds of it the builds),
// so a minute or two on a 2-core machine of its own, several when the machine is shared. Each child
// process has a generous bound of its own (a hang fails with what it printed); these bound the whole.
export default mergeConfig(defineConfig(shared), defineConfig({ test: { testTimeout: 300_000, hookTimeout: 420_000 } }));
