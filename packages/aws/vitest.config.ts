import { defineConfig, mergeConfig } from 'vitest/config';
import { shared } from '../../vitest.shared.js';

/**
 * Two projects, run by two commands (see package.json): `dynamodb` inside a private network
 * namespace, where DynamoDB Local may listen (it binds every interface), and `sqs` outside it, for the
 * pairs that need the machine's Postgres. Each writes its own report; scripts/test.mjs runs both and
 * merges them into the one report CI counts.
 */
// The shared include would be merged into each project's: each project names its own files instead.
const { include: _include, ...sharedTest } = shared.test ?? {};

export default defineConfig(
  mergeConfig({ ...shared, test: sharedTest }, {
    test: {
      // Test credentials for the emulators; instance metadata is never asked (no network but loopback).
      env: { AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_REGION: 'us-east-1', AWS_EC2_METADATA_DISABLED: 'true' },
      outputFile: process.env.CI ? { json: process.env.DURABLY_VITEST_REPORT ?? './.vitest-report.json' } : undefined,
      projects: [
        { extends: true, test: { name: 'dynamodb', include: ['test/dynamodb/**/*.test.ts'], globalSetup: ['./test/setup/global.ts'] } },
        { extends: true, test: { name: 'sqs', include: ['test/sqs/**/*.test.ts', 'src/**/*.test.ts'], globalSetup: ['./test/setup/global.ts'] } },
      ],
    },
  }),
);
