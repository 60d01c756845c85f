/** One row of the most limited clients. */
export interface TopClient {
  clientId: string;
  /**
   * Denied decisions counted in the tracked period. Exact while fewer distinct clients than the
   * tracker's capacity were denied; otherwise a lower bound, short by at most `undercount`.
   */
  count: number;
  /** How much `count` may fall short of the truth (0: exact). */
  undercount: number;
}

/**
 * The clients denied most often, in bounded memory: the Misra-Gries summary with `capacity`
 * counters. A new client arriving when every counter is taken lowers them all by the smallest
 * count and drops those that reach 0; a client denied more than (denials / capacity) times is never
 * lost, whatever the number of distinct clients an attack spreads over. Each such step costs
 * O(capacity) but removes at least one counter, so a denial costs O(1) amortized, even for a flood
 * of distinct clients (a per-miss scan for the smallest counter, as Space-Saving does, would not).
 *
 * Recency: counts live in periods of `periodMs`; the summary covers the current and the previous
 * period, so it forgets a client one to two periods after its last denial. `rotate()` is called by
 * the metrics timer every second.
 */
export class TopClients {
  readonly #capacity: number;
  readonly #periodMs: number;
  readonly #now: () => number;
  // Boxed counts: a repeat denial costs one Map lookup and an increment, no second lookup to set.
  #current = new Map<string, { n: number }>();
  #previous = new Map<string, { n: number }>();
  #currentUndercount = 0;
  #previousUndercount = 0;
  #periodStart: number;

  constructor(capacity: number, periodMs: number, now: () => number = Date.now) {
    this.#capacity = capacity;
    this.#periodMs = periodMs;
    this.#now = now;
    this.#periodStart = now();
  }

  /** Counts `weight` denials of `clientId` (a weight above 1 when the caller samples denials). */
  add(clientId: string, weight = 1): void {
    const counts = this.#current;
    const count = counts.get(clientId);
    if (count !== undefined) count.n += weight;
    else if (counts.size < this.#capacity) counts.set(clientId, { n: weight });
    else this.#shrink(weight);
  }

  /** The Misra-Gries step: every counter, the newcomer's `weight` included, loses the smallest count. */
  #shrink(weight: number): void {
    let min = weight;
    for (const count of this.#current.values()) if (count.n < min) min = count.n;
    // A new map of the survivors: cheaper than many deletes when, as in a scan, most counters go.
    const survivors = new Map<string, { n: number }>();
    for (const [id, count] of this.#current) {
      if (count.n > min) {
        count.n -= min;
        survivors.set(id, count);
      }
    }
    this.#current = survivors;
    this.#currentUndercount += min;
  }

  /** Moves to a new period when the current one is over. */
  rotate(): void {
    const now = this.#now();
    if (now - this.#periodStart < this.#periodMs) return;
    // A gap of two periods or more means the previous period is empty, too.
    const adjacent = now - this.#periodStart < 2 * this.#periodMs;
    this.#previous = adjacent ? this.#current : new Map<string, { n: number }>();
    this.#previousUndercount = adjacent ? this.#currentUndercount : 0;
    this.#current = new Map();
    this.#currentUndercount = 0;
    this.#periodStart = now;
  }

  /** The `n` most denied clients of the current and previous periods, most denied first. */
  top(n: number): TopClient[] {
    this.rotate();
    const undercount = this.#previousUndercount + this.#currentUndercount;
    const merged = new Map<string, number>();
    for (const [id, count] of this.#previous) merged.set(id, count.n);
    for (const [id, count] of this.#current) merged.set(id, (merged.get(id) ?? 0) + count.n);
    return [...merged]
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
      .slice(0, n)
      .map(([clientId, count]) => ({ clientId, count, undercount }));
  }
}
