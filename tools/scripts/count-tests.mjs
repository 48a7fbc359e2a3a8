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
    // A test file that failed to load has no tests in it; count it as a failure so it cannot hide.
    for (const suite of report.testResults ?? []) {
      if (suite.status === 'failed' && (suite.assertionResults ?? []).length === 0) failed++;
    }
  }
}
if (reports === 0) failed++;
console.log(`tests: ${passed} passed, ${failed} failed`);
