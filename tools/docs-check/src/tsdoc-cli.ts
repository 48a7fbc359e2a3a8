/** `npm run tsdoc -w @durably/docs-check`: the public exports without a TSDoc comment, by package. */
import { WORKSPACE_ROOT } from './files.js';
import { undocumentedExports } from './tsdoc.js';

const missing = undocumentedExports(WORKSPACE_ROOT);
let current = '';
for (const m of missing) {
  if (m.packageName !== current) console.log(`\n${(current = m.packageName)}`);
  console.log(`  ${m.name.padEnd(36)} ${m.kind.padEnd(20)} ${m.where}`);
}
console.log(`\n${missing.length} public exports without a TSDoc comment`);
