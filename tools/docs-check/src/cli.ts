/** `npm run check -w @durably/docs-check`: prints every type error of the docs' TypeScript blocks, with its Markdown line. */
import { checkMarkdown, formatDiagnostics } from './check.js';
import { WORKSPACE_ROOT, docsFiles } from './files.js';

const result = checkMarkdown(WORKSPACE_ROOT, process.argv.length > 2 ? process.argv.slice(2) : docsFiles());
if (result.diagnostics.length > 0) console.log(formatDiagnostics(result.diagnostics));
console.log(`${result.checked} blocks checked, ${result.partial} partial, ${result.diagnostics.length} errors`);
process.exitCode = result.diagnostics.length > 0 ? 1 : 0;
