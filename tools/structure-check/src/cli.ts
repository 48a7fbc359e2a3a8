/** Prints the structure check's findings for this workspace; exits 1 if there are any. */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkStructure, formatProblems } from './check.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const report = checkStructure(root);
const problems = formatProblems(report);
console.log(`${report.files.length} source files under packages/*/src: ${report.cycles.length} import cycles, ${report.longFiles.length} files over the limit`);
for (const p of problems) console.log(p);
process.exitCode = problems.length > 0 ? 1 : 0;
