import type { StoreDecision } from '../types';
import type { Engine, EngineCheck } from './engine';

/**
 * A client's recorded units, oldest first, as flat [second, units, second, units, ...] pairs.
 * Records are only ever appended at the client's clock, which never runs backwards, so the
 * buffer stays sorted and pruning is a walk from the head.
 */
export class CountDeque {
  clock = -1;
  total = 0;
  expiresAt = 0;
  buf: number[] = [];
  head = 0;

  /** Drops every record at a second <= `horizon`. */
  prune(horizon: number): void {
    const buf = this.buf;
    let head = this.head;
    while (head < buf.length && (buf[head] as number) <= horizon) {
      this.total -= buf[head + 1] as number;
      head += 2;
    }
    if (head === buf.length) {
      if (buf.length !== 0) this.buf = [];
      this.head = 0;
    } else if (head >= 64 && head * 2 >= buf.length) {
      this.buf = buf.slice(head);
      this.head = 0;
    } else {
      this.head = head;
    }
  }

  record(second: number, units: number, merge: boolean): void {
    const buf = this.buf;
    if (buf.length === 0) {
      // An exact-size literal: a first push into [] would reserve 17 slots for one record.
      this.buf = [second, units];
    } else if (merge && buf.length > this.head && buf[buf.length - 2] === second) {
      buf[buf.length - 1] = (buf[buf.length - 1] as number) + units;
    } else {
      buf.push(second, units);
    }
    this.total += units;
  }

  /** Adds `units` at `second` (at or before the newest record), keeping the buffer sorted. */
  insert(second: number, units: number): void {
    const buf = this.buf;
    let i = buf.length - 2;
    while (i >= this.head && (buf[i] as number) > second) i -= 2;
    if (i >= this.head && buf[i] === second) {
      buf[i + 1] = (buf[i + 1] as number) + units;
      this.total += units;
    } else if (buf.length === 0) {
      this.record(second, units, true);
    } else {
      buf.splice(i + 2, 0, second, units);
      this.total += units;
    }
  }

  /** Removes up to `units` recorded at `second`, newest entries first. */
  remove(second: number, units: number): void {
    const buf = this.buf;
    for (let i = buf.length - 2; i >= this.head && units > 0; i -= 2) {
      const at = buf[i] as number;
      if (at < second) break;
      if (at !== second) continue;
      const take = Math.min(units, buf[i + 1] as number);
      buf[i + 1] = (buf[i + 1] as number) - take;
      this.total -= take;
      units -= take;
      if (buf[i + 1] === 0) buf.splice(i, 2);
    }
  }

  /** Index in `buf` of the first record after `horizon` (buf.length when none). */
  firstAfter(horizon: number): number {
    const buf = this.buf;
    let i = this.head;
    while (i < buf.length && (buf[i] as number) <= horizon) i += 2;
    return i;
  }

  /** Units recorded at seconds after `horizon`. */
  unitsAfter(horizon: number): number {
    const buf = this.buf;
    let units = this.total;
    for (let i = this.head; i < buf.length && (buf[i] as number) <= horizon; i += 2) units -= buf[i + 1] as number;
    return units;
  }

  /** The least d >= 1 such that, with no new records, the units left in the window at e + d are <= target. */
  delayUntilAtMost(target: number, e: number, windowSeconds: number): number {
    const buf = this.buf;
    let left = this.total;
    for (let i = this.head; i < buf.length; i += 2) {
      left -= buf[i + 1] as number;
      if (left <= target) return Math.max(1, (buf[i] as number) + windowSeconds - e);
    }
    return 1;
  }
}

function makeDequeEngine(merge: boolean): Engine<CountDeque> {
  return {
    create: () => new CountDeque(),
    clockOf: (d) => d.clock,
    check(d: CountDeque, r: EngineCheck): StoreDecision {
      const { cost, limit, windowSeconds } = r;
      const e = r.timestamp > d.clock ? r.timestamp : d.clock;
      const horizon = e - windowSeconds;
      // Only what has left the window at the clock may go: a denial at a later e must keep what a
      // late request at the clock still counts.
      d.prune(d.clock - windowSeconds);
      let used = d.unitsAfter(horizon);
      const allowed = used + cost <= limit;
      let granted = 0;
      if (allowed) {
        granted = Math.min(r.extra, limit - used - cost);
        d.prune(horizon);
        d.record(e, cost + granted, merge);
        d.clock = e;
        used = d.total;
      }
      const oldest = d.firstAfter(horizon);
      return {
        allowed,
        limit,
        windowSeconds,
        remaining: Math.max(0, limit - used),
        retryAfter: allowed ? 0 : cost > limit ? Infinity : d.delayUntilAtMost(limit - cost, e, windowSeconds),
        resetAfter: oldest < d.buf.length ? (d.buf[oldest] as number) + windowSeconds - e : 0,
        timestamp: e,
        source: 'store',
        granted,
      };
    },
    release(d, at, units, windowSeconds) {
      if (d.clock >= 0 && at > d.clock - windowSeconds) d.remove(at, units);
    },
    changeWindow(d, oldWindowSeconds) {
      // Records that had left the old window at the client's clock never come back.
      if (d.clock >= 0) d.prune(d.clock - oldWindowSeconds);
    },
  };
}

/** The exact window: one count per second that holds an allowed request. */
export const slidingWindowEngine = makeDequeEngine(true);

/** The same decisions kept as a log: one entry per allowed request. */
export const slidingLogEngine = makeDequeEngine(false);
