// Sums vitest's JSON reports (written by each project's test run when CI=true) into one line:
// "tests: N passed, M failed", after the name and first error lines of each failed test.
import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const roots = ['packages', 'apps', 'tools'];
let passed = 0;
let failed = 0;
let reports = 0;
const failures = [];
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
    // A run that failed with no failed test and no failed file (a global setup that threw, an
    // unhandled error) counts as one failure too.
    const failedBefore = failed;
    for (const suite of report.testResults ?? []) {
      const file = suite.name ? suite.name.replace(process.cwd() + '/', '') : join(root, dir);
      const failedTests = (suite.assertionResults ?? []).filter((a) => a.status === 'failed');
      for (const test of failedTests) failures.push({ file, title: test.fullName ?? test.title, message: test.failureMessages?.[0] });
      if (suite.status === 'failed' && failedTests.length === 0) {
        failed++;
        failures.push({ file, title: '(the file failed outside its tests)', message: suite.message });
      }
    }
    if (report.success === false && failed === failedBefore && (report.numFailedTests ?? 0) === 0) {
      failed++;
      failures.push({ file: join(root, dir), title: '(the run failed outside its test files: a global setup or an unhandled error)', message: '' });
    }
  }
}
if (reports === 0) failed++;
// Name what failed (file, test, the first lines of its error), so a CI log's tail says why.
for (const { file, title, message } of failures) {
  console.log(`FAILED ${file} > ${title}`);
  const lines = String(message ?? '').split('\n').filter((line) => line.trim() !== '').slice(0, 6);
  for (const line of lines) console.log(`    ${line.slice(0, 300)}`);
}
console.log(`tests: ${passed} passed, ${failed} failed`);
