import type { UserConfig } from 'vitest/config';

/** Shared vitest settings: resolve workspace packages to their TypeScript sources. */
export const shared: UserConfig = {
  resolve: { conditions: ['@durably/source'] },
  ssr: { resolve: { conditions: ['@durably/source'] } },
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    reporters: process.env.CI ? ['default', 'json'] : ['default'],
    outputFile: process.env.CI ? { json: './.vitest-report.json' } : undefined,
  },
};
