import type { StoreDecision } from '../types';

/** One check, as a synchronous engine sees it: effective-time and config are already resolved by the caller. */
export interface EngineCheck {
  /** Whole ms. */
  timestamp: number;
  cost: number;
  limit: number;
  windowSeconds: number;
  /** The client's bucket width in ms (see time.ts bucketWidth). */
  g: number;
  extra: number;
}

/**
 * A synchronous, in-process implementation of one algorithm over one client's state. Used by
 * MemoryStore and by the local fallback limiter; the Redis scripts implement the same rules in Lua.
 * Times are whole ms inside; decisions come out in seconds (ms precision), as `Decision` says.
 */
export interface Engine<S> {
  create(): S;
  check(state: S, request: EngineCheck): StoreDecision;
  /** Removes `units` recorded at time `at` in ms (unspent lease units); moves the clock up to `clock` (ms) when given. */
  release(state: S, at: number, units: number, windowSeconds: number, clock?: number): void;
  /** Applies the window-change rule at the client's clock; `g` is the bucket width under the new window. */
  changeWindow(state: S, oldWindowSeconds: number, newWindowSeconds: number, g: number): void;
  /** The client's clock T in ms, or -1 when it has none. */
  clockOf(state: S): number;
}

/** The least d in [lo, hi] with `fits(d)`, for a `fits` that stays true once it is true. */
export function leastTrue(lo: number, hi: number, fits: (d: number) => boolean): number {
  while (lo < hi) {
    const mid = lo + Math.floor((hi - lo) / 2);
    if (fits(mid)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
