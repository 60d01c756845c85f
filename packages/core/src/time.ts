/**
 * The time model shared by every store and algorithm: timestamps in whole milliseconds, windows
 * counted in buckets of `g` ms (SPEC, "Time: buckets of g ms").
 */

/** Buckets per window by default: g = ceil(W_ms / 60) (W = 1 s: 17 ms; 60 s: 1 s; 1 h: 60 s). */
export const DEFAULT_BUCKETS_PER_WINDOW = 60;

/**
 * How late a request may reach its store, after its own timestamp, and still be decided against
 * every unit of its window: a client's counts are kept `W_ms + g` plus this much of the store's
 * clock after their last write (SPEC, expiry: at least `W_ms + g`). Forgetting a client at exactly
 * `W_ms + g` let a request stamped inside the window but delayed on its way (a busy node:cluster
 * primary, a queue, the network) find a fresh window after the window had filled in one burst and
 * the store had heard nothing allowed since: admitted, with a lease on top, while the whole window
 * still counted. One second is twenty times the default store timeout.
 */
export const LATE_ARRIVAL_GRACE_MS = 1000;

/**
 * The bucket width g in ms of a client whose window is `windowSeconds`: ceil(W_ms / 60) by
 * default, or `min(bucketMs, W_ms)` with the limiter option `bucketMs` (1: exact to the ms).
 */
export function bucketWidth(windowSeconds: number, bucketMs: number | undefined): number {
  const windowMs = windowSeconds * 1000;
  if (bucketMs === undefined) return Math.ceil(windowMs / DEFAULT_BUCKETS_PER_WINDOW);
  return bucketMs < windowMs ? bucketMs : windowMs;
}

/**
 * Seconds (fractions allowed) floored to whole milliseconds. `seconds * 1000` alone can land a
 * hair below the intended integer (1700000000.123 * 1000 = 1700000000122.9998), so the result is
 * corrected by comparing the neighbouring ms, as seconds, with the input itself.
 */
export function toMs(seconds: number): number {
  let ms = Math.floor(seconds * 1000);
  if ((ms + 1) / 1000 <= seconds) ms += 1;
  else if (ms / 1000 > seconds) ms -= 1;
  // + 0 turns -0 into 0.
  return ms + 0;
}
