import { readFileSync, readdirSync } from 'node:fs';

/**
 * CPU time of processes, read from Linux's /proc around a measured part: where the time of a run on a
 * 2-core machine goes (the bench's client, the worker processes, each server, everything else on the
 * machine). Percentages are of one core (200 % = both cores of the machine busy).
 */

/** Clock ticks per second of /proc's CPU counters (USER_HZ: 100 on every Linux the bench runs on). */
const TICKS_PER_S = 100;

/** utime + stime of a process, in ticks; undefined when it is gone or /proc is not there. */
function processTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name, in parentheses, may hold spaces: the fields are counted after its ")".
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined;
  }
}

/**
 * Time the threads of a process have spent runnable but waiting for a core (the second field of
 * /proc/<pid>/task/<tid>/schedstat), in ms: what a process loses to the others on a busy machine.
 */
function waitMs(pid: number): number | undefined {
  try {
    let ns = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[1]);
      } catch {
        // A thread gone since the listing.
      }
    }
    return ns / 1e6;
  } catch {
    return undefined;
  }
}

/** The processes whose command name (/proc/<pid>/comm) is `comm`: a server's, with its children. */
export function pidsNamed(comm: string): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const pids: number[] = [];
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (readFileSync(`/proc/${e}/comm`, 'utf8').trim() === comm) pids.push(Number(e));
    } catch {
      // Gone since the listing.
    }
  }
  return pids;
}

/** Busy ticks of the whole machine (all cores: everything but idle and iowait). */
function machineTicks(): number | undefined {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const [user, nice, system, , , irq, softirq, steal] = cpu;
    return user + nice + system + irq + softirq + steal;
  } catch {
    return undefined;
  }
}

/**
 * Starts counting the CPU of named groups of processes: a group is a list of pids, or a command name
 * looked up now and again at the end (Postgres starts a process per connection). stop() returns each
 * group's CPU in % of one core over the interval, `<group>_wait` its time waiting for a core (in % of
 * the interval, summed over its threads), `machine` (all processes) and `other` (the machine less the
 * groups: other work on a shared machine); a group whose processes are not visible is left out.
 */
export function cpuSampler(groups: Record<string, number[] | string>): { stop(): Record<string, number> } {
  const resolve = (g: number[] | string) => (typeof g === 'string' ? pidsNamed(g) : g);
  const start = new Map<number, number>();
  const waited = new Map<number, number>();
  for (const g of Object.values(groups)) {
    for (const pid of resolve(g)) {
      start.set(pid, processTicks(pid) ?? 0);
      waited.set(pid, waitMs(pid) ?? 0);
    }
  }
  const machine0 = machineTicks();
  const t0 = performance.now();
  return {
    stop() {
      const seconds = (performance.now() - t0) / 1000;
      const pct = (ticks: number) => (ticks / TICKS_PER_S / seconds) * 100;
      const out: Record<string, number> = {};
      let counted = 0;
      for (const [name, g] of Object.entries(groups)) {
        let ticks = 0;
        let wait = 0;
        let seen = false;
        // A process started during the interval (a server's new connection) counts from its start.
        for (const pid of resolve(g)) {
          const now = processTicks(pid);
          if (now === undefined) continue;
          seen = true;
          ticks += now - (start.get(pid) ?? 0);
          wait += (waitMs(pid) ?? 0) - (waited.get(pid) ?? 0);
        }
        if (!seen) continue;
        out[name] = pct(ticks);
        out[`${name}_wait`] = (wait / 1000 / seconds) * 100;
        counted += ticks;
      }
      const machine1 = machineTicks();
      if (machine0 !== undefined && machine1 !== undefined) {
        out.machine = pct(machine1 - machine0);
        out.other = Math.max(0, pct(machine1 - machine0 - counted));
      }
      return out;
    },
  };
}
