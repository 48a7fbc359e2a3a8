export { buildProgram, main, run } from './main.js';
export { EXIT, CliError, exitCodeOf, type ExitCode } from './exit-codes.js';
