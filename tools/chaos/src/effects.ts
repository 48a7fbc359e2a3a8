/**
 * The effects file the step bodies append to (see flow.ts), read as it grows: each body execution
 * and each hook token to resume, with no help from the engine.
 */
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';

export interface Execution {
  runId: string;
  step: string;
  attempt: number;
  pid: number;
}

export class EffectsReader {
  readonly executions: Execution[] = [];
  private offset = 0;
  private partial = '';

  constructor(readonly file: string) {}

  /** Reads what was appended since the last call; returns the hook tokens announced in it. */
  poll(): Array<{ runId: string; token: string }> {
    if (!existsSync(this.file)) return [];
    const size = statSync(this.file).size;
    if (size <= this.offset) return [];
    const fd = openSync(this.file, 'r');
    const buffer = Buffer.alloc(size - this.offset);
    try {
      readSync(fd, buffer, 0, buffer.length, this.offset);
    } finally {
      closeSync(fd);
    }
    this.offset = size;
    const text = this.partial + buffer.toString('utf8');
    const lines = text.split('\n');
    // A line a worker is writing as this reads (or one a SIGKILL cut short) waits for its end.
    this.partial = lines.pop() ?? '';
    const hooks: Array<{ runId: string; token: string }> = [];
    for (const line of lines) {
      const [kind, runId, a, b, c] = line.split(' ');
      if (kind === 'exec') this.executions.push({ runId, step: `chaos.${a}`, attempt: Number(b), pid: Number(c) });
      else if (kind === 'hook') hooks.push({ runId, token: a });
    }
    return hooks;
  }
}
