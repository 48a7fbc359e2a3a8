// Runs the package's two test projects and merges their reports (CI counts one report per package):
//   dynamodb: inside a private network namespace (unshare --net, loopback only), where DynamoDB Local
//             may listen on all interfaces without being reachable from anywhere else;
//   sqs:      outside it, for the broker on fauxqs and the pairs that need the machine's Postgres.
// The emulators are an on-demand project of their own (packages/aws/emulators, outside the root
// install): test:dynamodb installs them from their lockfile before entering the namespace, where npm
// cannot reach the registry; the sqs project's global setup does the same outside it.
// Extra arguments go to both vitest runs.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';

const args = process.argv.slice(2);
const runs = [
  { name: 'dynamodb', report: '.vitest-report.dynamodb.json' },
  { name: 'sqs', report: '.vitest-report.sqs.json' },
];
let failed = false;
for (const run of runs) {
  rmSync(run.report, { force: true });
  const result = spawnSync('npm', ['run', '--silent', `test:${run.name}`, '--', ...args], { stdio: 'inherit', env: { ...process.env, DURABLY_VITEST_REPORT: run.report } });
  if (result.status !== 0) failed = true;
}
if (process.env.CI) {
  const merged = { numPassedTests: 0, numFailedTests: 0, numTotalTests: 0, testResults: [], success: !failed };
  for (const run of runs) {
    if (!existsSync(run.report)) {
      // A run that wrote no report (it could not start) is a failure the count must show.
      merged.numFailedTests++;
      continue;
    }
    const r = JSON.parse(readFileSync(run.report, 'utf8'));
    merged.numPassedTests += r.numPassedTests ?? 0;
    merged.numFailedTests += r.numFailedTests ?? 0;
    merged.numTotalTests += r.numTotalTests ?? 0;
    merged.testResults.push(...(r.testResults ?? []));
    rmSync(run.report, { force: true });
  }
  writeFileSync('.vitest-report.json', JSON.stringify(merged));
}
process.exit(failed ? 1 : 0);
