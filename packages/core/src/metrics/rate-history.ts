/** Allowed and denied decisions in one second of wall-clock time. */
export interface RatePoint {
  /** Start of the second, in milliseconds since the Unix epoch. */
  t: number;
  allowed: number;
  denied: number;
  /** The adaptive factor at the end of the second (1 when adaptive limits are off). */
  factor: number;
}

/**
 * Decisions per second over the last `seconds`, in a fixed ring: `record()` is called once a second
 * (from a timer) with the running totals, so the decision path only increments two numbers.
 */
export class RateHistory {
  readonly #points: RatePoint[] = [];
  readonly #seconds: number;
  #lastAllowed = 0;
  #lastDenied = 0;

  constructor(seconds: number) {
    this.#seconds = seconds;
  }

  /** Closes the second that started at `t` (ms) with the running totals at its end. */
  record(t: number, totalAllowed: number, totalDenied: number, factor: number): void {
    this.#points.push({ t, allowed: totalAllowed - this.#lastAllowed, denied: totalDenied - this.#lastDenied, factor });
    this.#lastAllowed = totalAllowed;
    this.#lastDenied = totalDenied;
    if (this.#points.length > this.#seconds) this.#points.shift();
  }

  /** The closed seconds, oldest first, plus the second in progress (from `t`, totals so far). */
  points(t: number, totalAllowed: number, totalDenied: number, factor: number): RatePoint[] {
    return [...this.#points, { t, allowed: totalAllowed - this.#lastAllowed, denied: totalDenied - this.#lastDenied, factor }];
  }
}
