import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/**
 * Ports for the private servers that tests and tools start, stop and start again on the same port.
 *
 * They are taken below the kernel's ephemeral range (Linux: `net.ipv4.ip_local_port_range`, 32768-60999
 * by default), never inside it: while such a server is down, an outgoing connection of any process on
 * the machine may be given its port as a local port, and a client that keeps reconnecting to a port
 * nothing listens on can even be connected to itself (TCP simultaneous open, when the kernel picks
 * the destination port as the source port). Either way the port is taken and the server cannot start
 * again ("Address already in use").
 */
const FLOOR = 20_000;

/** The lowest port of the kernel's ephemeral range (32768 where it cannot be read). */
export function ephemeralPortFloor(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (Number.isInteger(low) && low > FLOOR + 1000) return low;
  } catch {
    // not Linux: the default of most systems' ranges (Linux 32768, IANA 49152) is above it
  }
  return 32_768;
}

/** Whether nothing listens on `port` of 127.0.0.1 now. */
export function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

/**
 * A port of 127.0.0.1 that nothing listens on, with the `span - 1` ports after it free too, below the
 * ephemeral range (see above), picked at random so that concurrent test files rarely pick alike.
 * Throws when 200 tries found none.
 */
export async function freeServerPort(span = 1): Promise<number> {
  const ceiling = ephemeralPortFloor() - span;
  for (let i = 0; i < 200; i++) {
    const port = FLOOR + Math.floor(Math.random() * (ceiling - FLOOR));
    let free = true;
    for (let p = port; p < port + span && free; p++) free = await isPortFree(p);
    if (free) return port;
  }
  throw new Error(`no ${span} free consecutive port(s) found between ${FLOOR} and ${ceiling}: is something holding the range?`);
}
