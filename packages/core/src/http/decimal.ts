/**
 * `String(n)` for the counts in rate-limit headers, without V8's number-to-string cache. A hot
 * client's `remaining` is a new number on every request, so that cache misses every time, and a
 * miss goes to the runtime (`node bench/header-path.mjs`: about 170 ns a request with a large limit).
 * Whole numbers are put together from three-digit groups kept here.
 */
export function decimal(n: number): string {
  if (n >= 0 && n < 1000 && Number.isInteger(n)) return SMALL[n] as string;
  // Fractions, negatives, NaN, infinities and huge values: as JavaScript writes them.
  if (!Number.isSafeInteger(n) || n < 0) return String(n);
  let rest = Math.floor(n / 1000);
  let text = GROUPS[n - rest * 1000] as string;
  while (rest >= 1000) {
    const next = Math.floor(rest / 1000);
    text = (GROUPS[rest - next * 1000] as string) + text;
    rest = next;
  }
  return (SMALL[rest] as string) + text;
}

/** '0' to '999'. */
const SMALL = Array.from({ length: 1000 }, (_, i) => String(i));
/** '000' to '999': a group after the first. */
const GROUPS = SMALL.map((digits) => digits.padStart(3, '0'));
