import type { StoreDecision } from '../types';
import type { Engine, EngineCheck } from './engine';

/**
 * A client's recorded units, oldest first. Records are only ever appended at the client's clock,
 * which never runs backwards, so they stay sorted and pruning is a walk from the oldest. A client
 * with one recorded second (most clients) keeps it in two fields; the flat
 * [second, units, second, units, ...] array exists only from the second distinct second on, which
 * saves an array (about 64 bytes) per such client.
 */
export class CountDeque {
  clock = -1;
  total = 0;
  expiresAt = 0;
  /** The only record while `buf` is undefined (`units0` 0: none). */
  second0 = 0;
  units0 = 0;
  /** Every record from `head` on, once there have been two distinct seconds at once. */
  buf: number[] | undefined = undefined;
  head = 0;

  /** Drops every record at a second <= `horizon`. */
  prune(horizon: number): void {
    const buf = this.buf;
    if (buf === undefined) {
      if (this.units0 !== 0 && this.second0 <= horizon) {
        this.total -= this.units0;
        this.units0 = 0;
      }
      return;
    }
    let head = this.head;
    while (head < buf.length && (buf[head] as number) <= horizon) {
      this.total -= buf[head + 1] as number;
      head += 2;
    }
    if (head === buf.length) {
      this.buf = undefined;
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
    if (buf === undefined) {
      if (this.units0 === 0) {
        this.second0 = second;
        this.units0 = units;
      } else if (merge && this.second0 === second) {
        this.units0 += units;
      } else {
        this.buf = [this.second0, this.units0, second, units];
        this.units0 = 0;
        this.head = 0;
      }
    } else if (merge && buf.length > this.head && buf[buf.length - 2] === second) {
      buf[buf.length - 1] = (buf[buf.length - 1] as number) + units;
    } else {
      buf.push(second, units);
    }
    this.total += units;
  }

  /** Adds `units` at `second` (at or before the newest record), keeping the records sorted. */
  insert(second: number, units: number): void {
    if (this.buf === undefined && (this.units0 === 0 || this.second0 === second)) {
      this.record(second, units, true);
      return;
    }
    const buf = this.#array();
    let i = buf.length - 2;
    while (i >= this.head && (buf[i] as number) > second) i -= 2;
    if (i >= this.head && buf[i] === second) buf[i + 1] = (buf[i + 1] as number) + units;
    else buf.splice(i + 2, 0, second, units);
    this.total += units;
  }

  /** Removes up to `units` recorded at `second`, newest entries first. */
  remove(second: number, units: number): void {
    const buf = this.buf;
    if (buf === undefined) {
      if (this.units0 === 0 || this.second0 !== second) return;
      const take = Math.min(units, this.units0);
      this.units0 -= take;
      this.total -= take;
      return;
    }
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

  /** The second of the oldest record after `horizon`, or -1 when there is none. */
  oldestAfter(horizon: number): number {
    const buf = this.buf;
    if (buf === undefined) return this.units0 !== 0 && this.second0 > horizon ? this.second0 : -1;
    let i = this.head;
    while (i < buf.length && (buf[i] as number) <= horizon) i += 2;
    return i < buf.length ? (buf[i] as number) : -1;
  }

  /** Units recorded at seconds after `horizon`. */
  unitsAfter(horizon: number): number {
    const buf = this.buf;
    if (buf === undefined) return this.units0 !== 0 && this.second0 <= horizon ? this.total - this.units0 : this.total;
    let units = this.total;
    for (let i = this.head; i < buf.length && (buf[i] as number) <= horizon; i += 2) units -= buf[i + 1] as number;
    return units;
  }

  /** The least d >= 1 such that, with no new records, the units left in the window at e + d are <= target. */
  delayUntilAtMost(target: number, e: number, windowSeconds: number): number {
    const buf = this.buf;
    if (buf === undefined) {
      return this.units0 !== 0 && this.total - this.units0 <= target ? Math.max(1, this.second0 + windowSeconds - e) : 1;
    }
    let left = this.total;
    for (let i = this.head; i < buf.length; i += 2) {
      left -= buf[i + 1] as number;
      if (left <= target) return Math.max(1, (buf[i] as number) + windowSeconds - e);
    }
    return 1;
  }

  /** Calls `fn` for every record, oldest first. */
  forEachRecord(fn: (second: number, units: number) => void): void {
    const buf = this.buf;
    if (buf === undefined) {
      if (this.units0 !== 0) fn(this.second0, this.units0);
      return;
    }
    for (let i = this.head; i < buf.length; i += 2) fn(buf[i] as number, buf[i + 1] as number);
  }

  /** The records as an array, moving an inline record into one (for the rare sorted insert). */
  #array(): number[] {
    if (this.buf === undefined) {
      this.buf = this.units0 === 0 ? [] : [this.second0, this.units0];
      this.units0 = 0;
      this.head = 0;
    }
    return this.buf;
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
      const oldest = d.oldestAfter(horizon);
      return {
        allowed,
        limit,
        windowSeconds,
        remaining: Math.max(0, limit - used),
        retryAfter: allowed ? 0 : cost > limit ? Infinity : d.delayUntilAtMost(limit - cost, e, windowSeconds),
        resetAfter: oldest >= 0 ? oldest + windowSeconds - e : 0,
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
