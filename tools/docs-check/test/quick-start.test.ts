/**
 * The quick start (docs/quick-start.md) run as a reader would: its commands in order, in a copy of
 * this checkout, on the embedded default. A command added to the page is run too (and fails the test
 * until it has an expectation below), so the page cannot drift from what works.
 */
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { stripVTControlCharacters } from 'node:util';
import { dirname, join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { WORKSPACE_ROOT } from '../src/files.js';

/** What the test cannot do as a reader does, and what it does instead. */
const REPLACED: Record<string, string> = {
  "git clone <the repository's URL> durably": 'the test copies this checkout instead of cloning',
  'cd durably': 'the copy is the working directory',
  'npm install': "the copy links this checkout's node_modules",
};

type Step = { kind: 'command'; command: string; note: string; line: number } | { kind: 'file'; path: string; content: string; line: number };

/** The page's bash commands and files to save, in page order. */
function stepsOf(markdown: string): Step[] {
  const lines = markdown.split('\n');
  const steps: Step[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w+)\s*(.*)$/.exec(lines[i]);
    if (!open) continue;
    let end = i + 1;
    while (end < lines.length && lines[end] !== '```') end++;
    const body = lines.slice(i + 1, end);
    if (open[1] === 'bash') {
      body.forEach((text, k) => {
        const [, command, note = ''] = /^(.*?)(?:\s+#\s*(.*))?$/.exec(text)!;
        if (command.trim()) steps.push({ kind: 'command', command: command.trim(), note, line: i + 2 + k });
      });
    } else if (open[1] === 'ts' && /^\[(.+)\]$/.test(open[2])) {
      steps.push({ kind: 'file', path: /^\[(.+)\]$/.exec(open[2])![1], content: body.join('\n') + '\n', line: i + 2 });
    }
    i = end;
  }
  return steps;
}

const copy = mkdtempSync(join(tmpdir(), 'durably-quick-start-'));
afterAll(() => rmSync(copy, { recursive: true, force: true }));

/** A shell like a reader's: no Durably settings, no npm variables of the test runner. */
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('DURABLY_') && !k.startsWith('npm_') && k !== 'NODE_OPTIONS' && k !== 'CI' && !k.startsWith('VITEST')));

/**
 * Each command takes seconds on an idle machine; a CI machine running three test projects at once
 * (brokers, DynamoDB Local, a browser) can make a cold tsx start take a minute. What is tested is
 * what the commands print, not their speed.
 */
const COMMAND_LIMIT_MS = 180_000;

function run(command: string, cwd: string, interrupt?: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    // A process group of its own, so that "Ctrl-C" reaches every process of the command, as a terminal's does.
    const child = spawn('bash', ['-c', command], { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let interrupted = false;
    const timer = setTimeout(() => {
      process.kill(-child.pid!, 'SIGKILL');
      reject(new Error(`"${command}" did not finish within ${COMMAND_LIMIT_MS / 1000} s:\n${output}`));
    }, COMMAND_LIMIT_MS);
    const onData = (d: Buffer) => {
      output += d;
      if (interrupt && !interrupted && output.includes(interrupt)) {
        interrupted = true;
        process.kill(-child.pid!, 'SIGINT');
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      // A terminal's colours (the CLI colours statuses when FORCE_COLOR is set, as nx sets it) are not text.
      resolve({ code, output: stripVTControlCharacters(output) });
    });
  });
}

it('runs every command of the quick start, in order, and each does what the page says', { timeout: 600_000 }, async () => {
  const steps = stepsOf(readFileSync(join(WORKSPACE_ROOT, 'docs/quick-start.md'), 'utf8'));
  const commands = steps.flatMap((s) => (s.kind === 'command' ? [s.command] : []));
  for (const replaced of Object.keys(REPLACED)) expect(commands, `the page no longer says "${replaced}": update REPLACED`).toContain(replaced);

  // The copy: every file git knows of (tracked, or new and not ignored), and this checkout's dependencies.
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: WORKSPACE_ROOT, encoding: 'utf8' }).split('\0').filter(Boolean);
  for (const file of files) {
    mkdirSync(dirname(join(copy, file)), { recursive: true });
    try {
      cpSync(join(WORKSPACE_ROOT, file), join(copy, file));
    } catch {
      // A file deleted in the working tree but not yet in git's index.
    }
  }
  symlinkSync(join(WORKSPACE_ROOT, 'node_modules'), join(copy, 'node_modules'));

  let cwd = copy;
  const seen = new Map<string, number>();
  for (const step of steps) {
    if (step.kind === 'file') {
      writeFileSync(join(copy, step.path), step.content);
      continue;
    }
    const { command, note, line } = step;
    if (REPLACED[command]) continue;
    const cd = /^cd (\S+)$/.exec(command);
    if (cd) {
      cwd = join(cwd, cd[1]);
      continue;
    }
    const times = (seen.get(command) ?? 0) + 1;
    seen.set(command, times);
    const ctrlC = /Ctrl-C/.test(note);
    const { code, output } = await run(command, cwd, ctrlC ? 'sleeping until' : undefined);
    const where = `docs/quick-start.md:${line} "${command}" (exit ${code}):\n${output}`;
    const lastLine = output.trim().split('\n').at(-1);
    if (ctrlC) {
      expect(output, where).toMatch(/Stopped\. Run \S+ is suspended, sleeping until \S+Z\./);
      expect(output, where).toContain('npm start -- --key demo');
    } else if (command === 'npm start') {
      expect(code, where).toBe(0);
      expect(lastLine, where).toBe('result: "Onboarding complete"');
    } else if (command === 'npm start -- --sleep 20s --key demo') {
      expect(code, where).toBe(0);
      expect(output, where).toContain('attaching to it (the worker resumes it where it was)');
      expect(output.match(/step send-welcome-email completed/g), where).toHaveLength(1);
      expect(lastLine, where).toBe('result: "Onboarding complete"');
    } else if (command === 'npx tsx --conditions=@durably/source src/hello.ts') {
      expect(code, where).toBe(0);
      expect(output, where).toMatch(/^run \S+: Hello, Ada! Two seconds later\.$/m);
    } else if (command === 'npm run durably -- runs list') {
      expect(code, where).toBe(0);
      const rows = output.split('\n').filter((l) => /^[0-9a-f-]{36}\s/.test(l));
      expect(rows.map((r) => r.split(/\s+/).slice(1, 3).join(' ')).sort(), where).toEqual(['hello completed', 'onboarding completed', 'onboarding completed']);
    } else {
      throw new Error(`${where}\nThe quick start has a command this test does not know: add what it should do above.`);
    }
    if (ctrlC) expect(times, where).toBe(1);
  }
});
