import type { StoreDecision } from '../types';
import type { Engine, EngineCheck } from './engine';

/**
 * A client's recorded units per bucket of `g` ms, oldest first. Records are only ever appended at
 * the bucket of the client's clock, which never runs backwards, so they stay sorted and pruning is
 * a walk from the oldest; a bucket is recorded once (units merge), so a client holds at most
 * ceil(W_ms / g) + 1 records whatever its traffic. A client with one recorded bucket (most clients)
 * keeps it in two fields; the flat [bucket, units, bucket, units, ...] array exists only from the
 * second distinct bucket on, which saves an array (about 64 bytes) per such client.
 */
export class CountDeque {
  /** The client's clock T in ms; -1 for none. */
  clock = -1;
  total = 0;
  expiresAt = 0;
  /** The bucket width in ms the records were made with (0 until the first check). */
  g = 0;
  /** The only record while `buf` is undefined (`units0` 0: none). */
  bucket0 = 0;
  units0 = 0;
  /** Every record from `head` on, once there have been two distinct buckets at once. */
  buf: number[] | undefined = undefined;
  head = 0;

  /** Drops every record in a bucket <= `horizon`. */
  prune(horizon: number): void {
    const buf = this.buf;
    if (buf === undefined) {
      if (this.units0 !== 0 && this.bucket0 <= horizon) {
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

  /** Appends `units` in `bucket`, at or after the newest record; `merge` adds them to a record of that bucket. */
  record(second: number, units: number, merge: boolean): void {
    const buf = this.buf;
    if (buf === undefined) {
      if (this.units0 === 0) {
        this.bucket0 = second;
        this.units0 = units;
      } else if (merge && this.bucket0 === second) {
        this.units0 += units;
      } else {
        this.buf = [this.bucket0, this.units0, second, units];
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

  /** Adds `units` in bucket `second` (at or before the newest record), keeping the records sorted. */
  insert(second: number, units: number): void {
    if (this.buf === undefined && (this.units0 === 0 || this.bucket0 === second)) {
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

  /** Removes up to `units` recorded in bucket `second`, newest entries first. */
  remove(second: number, units: number): void {
    const buf = this.buf;
    if (buf === undefined) {
      if (this.units0 === 0 || this.bucket0 !== second) return;
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

  /** The bucket of the oldest record with units after bucket `horizon`, or -1 when there is none. */
  oldestAfter(horizon: number): number {
    const buf = this.buf;
    if (buf === undefined) return this.units0 !== 0 && this.bucket0 > horizon ? this.bucket0 : -1;
    let i = this.head;
    while (i < buf.length && ((buf[i] as number) <= horizon || buf[i + 1] === 0)) i += 2;
    return i < buf.length ? (buf[i] as number) : -1;
  }

  /** Units recorded in buckets after `horizon`. */
  unitsAfter(horizon: number): number {
    const buf = this.buf;
    if (buf === undefined) return this.units0 !== 0 && this.bucket0 <= horizon ? this.total - this.units0 : this.total;
    let units = this.total;
    for (let i = this.head; i < buf.length && (buf[i] as number) <= horizon; i += 2) units -= buf[i + 1] as number;
    return units;
  }

  /**
   * The least d >= 1 (ms) such that, with no new records, the units left in the window at e + d
   * are <= target. Bucket b stops counting at the first time x with (b + 1) * g - 1 < x - W_ms + 1.
   */
  delayUntilAtMost(target: number, e: number, windowMs: number, g: number): number {
    const buf = this.buf;
    if (buf === undefined) {
      return this.units0 !== 0 && this.total - this.units0 <= target ? Math.max(1, (this.bucket0 + 1) * g + windowMs - 1 - e) : 1;
    }
    let left = this.total;
    for (let i = this.head; i < buf.length; i += 2) {
      left -= buf[i + 1] as number;
      if (left <= target) return Math.max(1, ((buf[i] as number) + 1) * g + windowMs - 1 - e);
    }
    return 1;
  }

  /**
   * Moves every record to buckets of width `g` (SPEC, per-client limits): each unit goes to the
   * new bucket of the latest time it could have had, min(end of its old bucket, clock), never an
   * earlier one, so re-bucketing never admits more.
   */
  rebucket(g: number): void {
    const old = this.g;
    this.g = g;
    if (old === 0 || old === g || this.total === 0) return;
    const clock = this.clock;
    const records: number[] = [];
    this.forEachRecord((bucket, units) => records.push(bucket, units));
    this.buf = undefined;
    this.head = 0;
    this.units0 = 0;
    this.total = 0;
    for (let i = 0; i < records.length; i += 2) {
      const end = ((records[i] as number) + 1) * old - 1;
      if ((records[i + 1] as number) > 0) this.record(Math.floor((end < clock ? end : clock) / g), records[i + 1] as number, true);
    }
  }

  /** Calls `fn` for every record, oldest first. */
  forEachRecord(fn: (bucket: number, units: number) => void): void {
    const buf = this.buf;
    if (buf === undefined) {
      if (this.units0 !== 0) fn(this.bucket0, this.units0);
      return;
    }
    for (let i = this.head; i < buf.length; i += 2) fn(buf[i] as number, buf[i + 1] as number);
  }

  /** The records as an array, moving an inline record into one (for the rare sorted insert). */
  #array(): number[] {
    if (this.buf === undefined) {
      this.buf = this.units0 === 0 ? [] : [this.bucket0, this.units0];
      this.units0 = 0;
      this.head = 0;
    }
    return this.buf;
  }
}

/** The first bucket that holds a millisecond of the window (e - W_ms, e]. */
export function firstCounted(e: number, windowMs: number, g: number): number {
  return Math.floor((e - windowMs + 1) / g);
}

/**
 * The exact window over buckets (SPEC, "The exact sliding window"). `fixedG` forces the bucket
 * width (the log: 1 ms); `merge` false keeps one record per request (the log's shape).
 */
function makeDequeEngine(merge: boolean, fixedG: number | undefined): Engine<CountDeque> {
  return {
    create: () => new CountDeque(),
    clockOf: (d) => d.clock,
    check(d: CountDeque, r: EngineCheck): StoreDecision {
      const { cost, limit, windowSeconds } = r;
      const g = fixedG ?? r.g;
      if (d.g !== g) d.rebucket(g);
      const windowMs = windowSeconds * 1000;
      const e = r.timestamp > d.clock ? r.timestamp : d.clock;
      const horizon = firstCounted(e, windowMs, g) - 1;
      // Only what has left the window at the clock may go: a denial at a later e must keep what a
      // late request at the clock still counts.
      if (d.clock >= 0) d.prune(firstCounted(d.clock, windowMs, g) - 1);
      let used = d.unitsAfter(horizon);
      const allowed = used + cost <= limit;
      let granted = 0;
      if (allowed) {
        granted = Math.min(r.extra, limit - used - cost);
        d.prune(horizon);
        d.record(Math.floor(e / g), cost + granted, merge);
        d.clock = e;
        used = d.total;
      }
      const oldest = d.oldestAfter(horizon);
      return {
        allowed,
        limit,
        windowSeconds,
        remaining: Math.max(0, limit - used),
        retryAfter: allowed ? 0 : cost > limit ? Infinity : d.delayUntilAtMost(limit - cost, e, windowMs, g) / 1000,
        resetAfter: oldest >= 0 ? ((oldest + 1) * g + windowMs - 1 - e) / 1000 : 0,
        timestamp: e / 1000,
        source: 'store',
        granted,
      };
    },
    release(d, at, units, windowSeconds, clock) {
      if (d.clock < 0) return;
      // The units sit in the bucket of `at` under the width they were recorded with, or (re-bucketed
      // since) in a later one: removing from this bucket is never more than they gave.
      const g = d.g;
      if (Math.floor(at / g) >= firstCounted(d.clock, windowSeconds * 1000, g)) d.remove(Math.floor(at / g), units);
      // Requests the lease decided after `at` (in the same bucket) were allowed at times up to `clock`.
      if (clock !== undefined && clock > d.clock) d.clock = clock;
    },
    changeWindow(d, oldWindowSeconds, _newWindowSeconds, g) {
      // Units that had left the old window at the client's clock never come back; the rest move to
      // buckets of the new width.
      if (d.clock < 0) return;
      d.prune(firstCounted(d.clock, oldWindowSeconds * 1000, d.g) - 1);
      d.rebucket(fixedG ?? g);
    },
  };
}

/** The exact window: one count per bucket that holds an allowed request. */
export const slidingWindowEngine = makeDequeEngine(true, undefined);

/** The same decisions with 1 ms buckets, kept as a log: one entry per allowed request. */
export const slidingLogEngine = makeDequeEngine(false, 1);
