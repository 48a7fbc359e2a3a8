/**
 * A network partition between one process and the servers: a second network namespace joined to
 * this one by a veth pair. The servers listen on this side's address; a process started with
 * `command()` runs on the far side and reaches them only over the pair. `cut()` takes this side's end
 * down: the far end loses its carrier, keeps its route and its static neighbour entry, and every
 * packet it sends is dropped in silence (no reset, no ICMP), as on a real partition; `restore()`
 * brings it back and TCP retransmits what was held.
 *
 * It changes interfaces, so it runs only in a private network namespace (`unshare --net`), never in
 * the machine's own: {@link inPrivateNetwork} tells, and the tool re-executes itself so when needed.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';

const ip = (...args: string[]) => execFileSync('ip', args, { encoding: 'utf8' });

/** True when this process runs in a network namespace that holds no interface but loopback and ours. */
export function inPrivateNetwork(): boolean {
  if (process.env.CHAOS_PRIVATE_NET !== '1') return false;
  const links = ip('-o', 'link', 'show')
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(':')[1].trim().split('@')[0]);
  return links.every((name) => name === 'lo' || name.startsWith('dchaos'));
}

/**
 * Runs this command again in a network namespace of its own (`unshare --net`, loopback up, marked by
 * CHAOS_PRIVATE_NET=1) and exits with its exit code. Needs the right to make namespaces (root, or
 * unprivileged user namespaces).
 */
export function rerunInPrivateNetwork(): never {
  const argv = [process.execPath, ...process.execArgv, ...process.argv.slice(1)];
  const r = spawnSync('unshare', ['--net', 'sh', '-c', 'ip link set lo up && exec "$@"', 'sh', ...argv], { stdio: 'inherit', env: { ...process.env, CHAOS_PRIVATE_NET: '1' } });
  if (r.error) {
    console.error(`could not run the tool in a private network namespace (unshare --net): ${r.error.message}`);
    process.exit(1);
  }
  process.exit(r.status ?? 1);
}

export class PartitionLink {
  /** This side's address (the servers'), and the far side's (the isolated process's). */
  readonly near = '10.77.0.1';
  readonly far = '10.77.0.2';
  /** The far side's network, to let the servers accept it. */
  readonly network = '10.77.0.0/30';
  private holder?: ChildProcess;
  private readonly nearDev = 'dchaos0';
  private readonly farDev = 'dchaos1';

  /** Makes the far namespace (held by a sleeping process) and the veth pair between them. */
  async open(): Promise<void> {
    if (!inPrivateNetwork()) throw new Error('PartitionLink changes network interfaces: run it in a private network namespace (unshare --net) with CHAOS_PRIVATE_NET=1.');
    ip('link', 'set', 'lo', 'up');
    const holder = spawn('unshare', ['--net', 'sleep', 'infinity'], { stdio: 'ignore' });
    this.holder = holder;
    // The namespace exists once unshare has exec'd sleep.
    for (let i = 0; i < 50; i++) {
      await new Promise((r) => setTimeout(r, 50));
      try {
        execFileSync('nsenter', ['-t', String(holder.pid), '-n', 'true']);
        if (execFileSync('readlink', [`/proc/${holder.pid}/exe`], { encoding: 'utf8' }).includes('sleep')) break;
      } catch {
        // not yet
      }
    }
    const far = (...args: string[]) => execFileSync('nsenter', ['-t', String(holder.pid), '-n', 'ip', ...args], { encoding: 'utf8' });
    ip('link', 'add', this.nearDev, 'type', 'veth', 'peer', 'name', this.farDev, 'netns', String(holder.pid));
    ip('addr', 'add', `${this.near}/30`, 'dev', this.nearDev);
    ip('link', 'set', this.nearDev, 'up');
    far('link', 'set', 'lo', 'up');
    far('addr', 'add', `${this.far}/30`, 'dev', this.farDev);
    far('link', 'set', this.farDev, 'up');
    // Static neighbours: with the link cut, ARP must not fail over to "host unreachable" errors.
    const mac = (out: string) => /link\/ether ([0-9a-f:]+)/.exec(out)![1];
    far('neigh', 'replace', this.near, 'lladdr', mac(ip('-o', 'link', 'show', this.nearDev)), 'dev', this.farDev, 'nud', 'permanent');
    ip('neigh', 'replace', this.far, 'lladdr', mac(far('-o', 'link', 'show', this.farDev)), 'dev', this.nearDev, 'nud', 'permanent');
  }

  /** A command line that runs `argv` on the far side. */
  command(argv: string[]): [string, string[]] {
    if (!this.holder) throw new Error('PartitionLink.open() first');
    return ['nsenter', ['-t', String(this.holder.pid), '-n', '--', ...argv]];
  }

  cut(): void {
    ip('link', 'set', this.nearDev, 'down');
  }

  restore(): void {
    ip('link', 'set', this.nearDev, 'up');
  }

  close(): void {
    try {
      ip('link', 'del', this.nearDev);
    } catch {
      // gone with the namespace
    }
    this.holder?.kill('SIGKILL');
  }
}
