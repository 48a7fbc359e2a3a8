import Table from 'cli-table3';
import pc from 'picocolors';
import yoctoSpinner from 'yocto-spinner';

/** Where command output goes: results to stdout (tables for people, JSON with --json), progress to stderr. */
export class Output {
  constructor(
    readonly json: boolean,
    private readonly stdout: NodeJS.WriteStream = process.stdout,
    private readonly stderr: NodeJS.WriteStream = process.stderr,
  ) {}

  /** The result of a command: `human()` unless --json, where `data` is printed as one JSON document. */
  result(data: unknown, human: () => string | string[]): void {
    if (this.json) this.stdout.write(JSON.stringify(data, jsonReplacer, 2) + '\n');
    else {
      const text = human();
      this.stdout.write((Array.isArray(text) ? text.join('\n') : text) + '\n');
    }
  }

  /** A document printed as is on stdout (an exported file's content, for `--out -`), instead of a result. */
  document(text: string): void {
    this.stdout.write(text);
  }

  /** A table with a header row; `empty` is printed instead when there are no rows. */
  table(head: string[], rows: Array<Array<string | number>>, empty = '(none)'): string {
    if (rows.length === 0) return pc.dim(empty);
    const table = new Table({
      head: head.map((h) => pc.bold(h)),
      style: { head: [], border: [], compact: true },
      chars: { top: '', 'top-mid': '', 'top-left': '', 'top-right': '', bottom: '', 'bottom-mid': '', 'bottom-left': '', 'bottom-right': '', left: '', 'left-mid': '', mid: '', 'mid-mid': '', right: '', 'right-mid': '', middle: '  ' },
    });
    for (const row of rows) table.push(row.map(String));
    return table.toString().replace(/^ /gm, '');
  }

  /**
   * Progress of a long operation on stderr: a spinner on a terminal, a line per update otherwise
   * (never on stdout, so --json output stays one document).
   */
  progress(text: string): { update(text: string): void; done(text?: string): void } {
    if (this.stderr.isTTY) {
      const spinner = yoctoSpinner({ text, stream: this.stderr }).start();
      return { update: (t) => void (spinner.text = t), done: (t) => void (t ? spinner.success(t) : spinner.stop()) };
    }
    this.stderr.write(`${text}\n`);
    let last = 0;
    return {
      update: (t) => {
        if (Date.now() - last < 1000) return;
        last = Date.now();
        this.stderr.write(`${t}\n`);
      },
      done: (t) => void (t && this.stderr.write(`${t}\n`)),
    };
  }
}

function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Map) return Object.fromEntries(value);
  if (value instanceof Set) return [...value];
  if (value instanceof Error) return { name: value.name, message: value.message };
  return value;
}

export function formatTime(ms: number | undefined): string {
  if (ms === undefined) return '-';
  const d = new Date(ms);
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function formatDuration(ms: number | undefined): string {
  if (ms === undefined || Number.isNaN(ms)) return '-';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 2 : 1)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${Math.round(s % 60)}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

const STATUS_COLOR: Record<string, (s: string) => string> = {
  completed: pc.green,
  failed: pc.red,
  cancelled: pc.yellow,
  running: pc.cyan,
  suspended: pc.blue,
  pending: pc.dim,
  continued: pc.magenta,
};

export function formatStatus(status: string): string {
  return (STATUS_COLOR[status] ?? ((s: string) => s))(status);
}

/** A value shown in one line: JSON, cut at `max` characters. */
export function preview(value: unknown, max = 60): string {
  let text: string;
  try {
    text = value === undefined ? '' : JSON.stringify(value, jsonReplacer) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

export { pc };
