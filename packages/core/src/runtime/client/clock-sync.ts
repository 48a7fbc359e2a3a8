import { performance } from 'node:perf_hooks';
import { parseDuration, StorageError, type Duration, type Logger } from '@durably/contracts';

/** One reading of the storage's clock: the local clock just before the request and just after the answer. */
export interface ClockSample {
  /** Local time when the request was sent (ms). */
  sentAt: number;
  /** The storage's clock as it answered (epoch ms), read at some moment between `sentAt` and `receivedAt`. */
  serverTime: number;
  /** Local time when the answer arrived (ms). */
  receivedAt: number;
}

/** How far the storage's clock is from the local one, and how sure that figure is. */
export interface ClockOffset {
  /** Storage clock minus local clock, in ms: positive when the local clock is behind. */
  offsetMs: number;
  /**
   * The true offset lies within `offsetMs ± boundMs`: half the round trip of the sample the
   * estimate rests on (the server read its clock somewhere in that round trip), plus the
   * resolution of the clocks read (Date.now: 1 ms).
   */
  boundMs: number;
  /** The round trip of that sample, in ms. */
  roundTripMs: number;
}

/**
 * Estimates the offset from readings of the storage's clock (Cristian's algorithm): each sample
 * places the server's reading at the midpoint of its round trip, wrong by at most half the round
 * trip; the sample with the shortest round trip gives the tightest bound and is the one used.
 * `resolutionMs`: the resolution of the clocks read, added to the bound.
 */
export function estimateOffset(samples: readonly ClockSample[], resolutionMs = 0): ClockOffset {
  let best: ClockSample | undefined;
  for (const s of samples) {
    if (!Number.isFinite(s.serverTime) || !(s.receivedAt >= s.sentAt)) continue;
    if (!best || s.receivedAt - s.sentAt < best.receivedAt - best.sentAt) best = s;
  }
  if (!best) throw new StorageError('Clock synchronisation: the storage returned no usable reading of its clock (serverTime() must return epoch milliseconds).');
  const roundTripMs = best.receivedAt - best.sentAt;
  return { offsetMs: best.serverTime - (best.sentAt + best.receivedAt) / 2, boundMs: roundTripMs / 2 + resolutionMs, roundTripMs };
}

/** Options of the client's clock synchronisation with its storage (`new Client({ clockSync })`). */
export interface ClockSyncOptions {
  /** How often the offset is measured again while the client is open. Default 60s. */
  interval?: Duration;
  /** A warning is logged when the machine's clock is further than this from the storage's. Default 1s. */
  warnAbove?: Duration;
  /** Readings per measurement; the one with the shortest round trip is used. Default 5. */
  samples?: number;
  /**
   * The machine clock that the synchronisation corrects. Default `Date.now`. A test passes a skewed
   * one to play a machine whose clock is off.
   */
  localClock?: () => number;
}

/** A local clock that jumps by more than this against the monotonic clock between measurements triggers a new one. */
const STEP_MS = 1000;

/**
 * The engine's clock when the storage has one (`Storage.serverTime`): the machine's clock plus the
 * measured offset to the storage's clock, re-measured every `interval`. Between measurements it is
 * also carried forward on the monotonic clock, and `now()` answers the earlier of the two: a wall
 * clock stepped forward (NTP, an operator) cannot make a timer fire early, and a step either way
 * triggers a new measurement at once.
 */
export class ClockSync {
  private offsetMs = 0;
  private anchorServer: number;
  private anchorMono: number;
  private measuring?: Promise<ClockOffset | undefined>;
  private timer?: NodeJS.Timeout;
  private warnedAt?: number;
  private failing = false;
  private lastStepCheck = 0;
  private readonly intervalMs: number;
  private readonly warnAboveMs: number;
  private readonly samples: number;
  private readonly local: () => number;
  /** The last measurement, undefined before the first succeeded. */
  last?: ClockOffset;

  private read?: () => Promise<number>;

  constructor(
    private readonly logger: Logger,
    options: ClockSyncOptions = {},
    private readonly monotonic: () => number = () => performance.now(),
  ) {
    this.intervalMs = parseDuration(options.interval ?? '60s', 'clockSync.interval');
    this.warnAboveMs = parseDuration(options.warnAbove ?? '1s', 'clockSync.warnAbove');
    this.samples = Math.max(1, Math.floor(options.samples ?? 5));
    this.local = options.localClock ?? Date.now;
    this.anchorServer = this.local();
    this.anchorMono = this.monotonic();
  }

  /** The storage's time as this process estimates it (epoch ms, whole). */
  readonly now = (): number => {
    if (!this.read) return this.local();
    const wall = this.local() + this.offsetMs;
    const mono = this.anchorServer + (this.monotonic() - this.anchorMono);
    if (Math.abs(wall - mono) > STEP_MS && mono - this.lastStepCheck > STEP_MS) {
      this.lastStepCheck = mono;
      void this.measure();
    }
    // Whole milliseconds, as every time the engine stores; rounded down, so never ahead.
    return Math.floor(Math.min(wall, mono));
  };

  /**
   * Follows the clock `read` returns from now on: measures at once, then every `interval` until
   * stop(); resolves after the first measurement (a failed one is logged). Until then, and without
   * `read` (a storage with no clock of its own), `now()` is the local clock.
   */
  async start(read: (() => Promise<number>) | undefined): Promise<void> {
    if (!read) return;
    this.read = read;
    await this.measure();
    if (this.timer) return;
    this.timer = setInterval(() => void this.measure(), this.intervalMs);
    // The client does not keep its process alive for this.
    this.timer.unref();
  }

  /** Stops the periodic measurements; the last offset stays in force. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One measurement (concurrent calls share it); undefined when the storage could not be read, the last offset staying in force. */
  measure(): Promise<ClockOffset | undefined> {
    if (!this.read) return Promise.resolve(undefined);
    this.measuring ??= this.takeMeasurement().finally(() => (this.measuring = undefined));
    return this.measuring;
  }

  private async takeMeasurement(): Promise<ClockOffset | undefined> {
    let estimate: ClockOffset;
    try {
      const samples: ClockSample[] = [];
      for (let i = 0; i < this.samples; i++) {
        const sentAt = this.local();
        const serverTime = await this.read!();
        samples.push({ sentAt, serverTime, receivedAt: this.local() });
      }
      estimate = estimateOffset(samples, 1);
    } catch (err) {
      // Logged once per outage: a lagging monotonic clock asks for a measurement every second.
      if (!this.failing) this.logger.warn('could not read the storage clock; the engine keeps its last clock offset', { offsetMs: Math.round(this.offsetMs), error: String(err) });
      this.failing = true;
      return undefined;
    }
    this.failing = false;
    // A new estimate within the bound of the one in force changes nothing (no jitter of the clock).
    if (this.last === undefined || Math.abs(estimate.offsetMs - this.offsetMs) > estimate.boundMs + 1) this.offsetMs = estimate.offsetMs;
    // The monotonic clock carries the estimate forward from here until the next measurement.
    this.anchorServer = this.local() + this.offsetMs;
    this.anchorMono = this.monotonic();
    this.last = estimate;
    this.report(estimate);
    return estimate;
  }

  private report(estimate: ClockOffset): void {
    const off = Math.round(estimate.offsetMs);
    if (Math.abs(estimate.offsetMs) <= this.warnAboveMs) {
      this.warnedAt = undefined;
      return;
    }
    if (this.warnedAt !== undefined && Math.abs(estimate.offsetMs - this.warnedAt) <= this.warnAboveMs) return;
    this.warnedAt = estimate.offsetMs;
    this.logger.warn(
      `this machine's clock is ${Math.abs(off)} ms ${off > 0 ? 'behind' : 'ahead of'} the storage's; the engine runs on the storage's clock (timers, sleeps, leases and hook expiry are judged by it). Sync this machine's clock (NTP) to silence this warning.`,
      { offsetMs: off, boundMs: Math.round(estimate.boundMs * 10) / 10, warnAboveMs: this.warnAboveMs },
    );
  }
}
