import { defineConfig, mergeConfig } from 'vitest/config';
import { shared } from '../../vitest.shared.js';

// Each check builds a TypeScript program over the workspace's public entry points: about 20 s on an
// idle 2-core machine, several times that when the machine is busy. Type-checking is the behaviour
// under test, not its speed, so the timeout leaves room for a loaded CI machine.
export default mergeConfig(defineConfig(shared), defineConfig({ test: { testTimeout: 240_000 } }));
