// Sums vitest's JSON reports (written by each project's test run when CI=true) into one line:
// "tests: N passed, M failed".
import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const roots = ['packages', 'apps', 'tools'];
let passed = 0;
let failed = 0;
let reports = 0;
for (const root of roots) {
  if (!existsSync(root)) continue;
  for (const dir of readdirSync(root)) {
    const file = join(root, dir, '.vitest-report.json');
    if (!existsSync(file) || !statSync(file).isFile()) continue;
    const report = JSON.parse(readFileSync(file, 'utf8'));
    reports++;
    passed += report.numPassedTests ?? 0;
    failed += report.numFailedTests ?? 0;
    // A test file that failed with no failed test in it (it failed to load, or a beforeAll threw and
    // its tests were skipped) counts as one failure, so it cannot hide.
    for (const suite of report.testResults ?? []) {
      if (suite.status === 'failed' && !(suite.assertionResults ?? []).some((a) => a.status === 'failed')) failed++;
    }
  }
}
if (reports === 0) failed++;
console.log(`tests: ${passed} passed, ${failed} failed`);
