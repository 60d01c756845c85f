/**
 * Reference models of the SPEC's decision rules, written from SPEC.md alone and as plainly as
 * possible so that they are obviously right: every client keeps its whole history as a list and
 * every figure is recomputed from that list on every call, by trying the candidate times. They are
 * slow on purpose and share no code with `src/`.
 *
 * Times inside are whole milliseconds (SPEC, "Time"); decisions come out in seconds, as the API
 * gives them.
 */
import type { Decision } from '../../src/index';

export interface ModelLimit {
  limit: number;
  windowSeconds: number;
}

/** The fields of a decision that the SPEC defines. */
export interface ModelDecision {
  allowed: boolean;
  limit: number;
  windowSeconds: number;
  remaining: number;
  retryAfter: number;
  resetAfter: number;
  timestamp: number;
  source: 'store';
}

/**
 * One allowed request. `slot` is the time whose bucket holds its units: its effective time, or,
 * after a limit change moved it, "the latest time it could have had" (SPEC, per-client limits).
 */
export interface Recorded {
  slot: number;
  cost: number;
}

/**
 * The SPEC's floor of a timestamp in seconds to whole ms (1700000000.1239 is 1700000000123 ms), on
 * the number as written (its shortest decimal form), so no floating-point product decides the floor.
 */
export function msOf(seconds: number): number {
  const text = seconds !== 0 && (seconds < 1e-6 || seconds >= 1e21) ? seconds.toFixed(20) : String(seconds);
  const [whole, fraction = ''] = text.split('.') as [string, string?];
  return Number(whole) * 1000 + Number(fraction.slice(0, 3).padEnd(3, '0'));
}

/** SPEC: g = ceil(W_ms / 60) by default; with bucketMs, min(bucketMs, W_ms). */
export function bucketOf(windowSeconds: number, bucketMs: number | undefined): number {
  const windowMs = windowSeconds * 1000;
  return bucketMs === undefined ? Math.ceil(windowMs / 60) : Math.min(bucketMs, windowMs);
}

/** SPEC: used(e) = total cost in the buckets b(e - W_ms + 1) .. b(e). */
export function usedAt(records: readonly Recorded[], e: number, windowMs: number, g: number): number {
  const first = Math.floor((e - windowMs + 1) / g);
  const last = Math.floor(e / g);
  let used = 0;
  for (const r of records) {
    const b = Math.floor(r.slot / g);
    if (b >= first && b <= last) used += r.cost;
  }
  return used;
}

/**
 * The least d >= 1 (ms) with `fits(used(e + d))`, with no new traffic. used(e + d) only falls, and
 * only when a bucket leaves the window: at the least d with b(slot) < b(e + d - W_ms + 1), that is
 * d = (b(slot) + 1) * g + W_ms - 1 - e. So the answer is 1 or one of those d, tried in order.
 * (test/model.test.ts checks this against a ms-by-ms scan.)
 */
export function leastDelay(records: readonly Recorded[], e: number, windowMs: number, g: number, fits: (used: number) => boolean): number {
  const leaves = records.map((r) => (Math.floor(r.slot / g) + 1) * g + windowMs - 1 - e).filter((d) => d > 1);
  for (const d of [1, ...leaves].sort((a, b) => a - b)) {
    if (fits(usedAt(records, e + d, windowMs, g))) return d;
  }
  throw new Error('model: no delay found; unreachable, since after the newest bucket leaves nothing is used');
}

/** The same answer by trying every ms: only for small windows (used to test the model itself). */
export function leastDelayByScan(records: readonly Recorded[], e: number, windowMs: number, g: number, fits: (used: number) => boolean): number {
  for (let d = 1; ; d++) {
    if (fits(usedAt(records, e + d, windowMs, g))) return d;
  }
}

interface ExactClient {
  /** T: the newest effective time (ms) of an allowed request; undefined until the first one. */
  clock: number | undefined;
  records: Recorded[];
  own: ModelLimit | undefined;
}

/** The exact sliding window of the SPEC ('sliding-window'; 'sliding-log' decides as it does with bucketMs 1). */
export class ExactWindowModel {
  readonly #defaults: ModelLimit;
  readonly #bucketMs: number | undefined;
  readonly #clients = new Map<string, ExactClient>();

  constructor(defaults: ModelLimit, bucketMs?: number) {
    this.#defaults = { ...defaults };
    this.#bucketMs = bucketMs;
  }

  #client(clientId: string): ExactClient {
    let client = this.#clients.get(clientId);
    if (client === undefined) {
      client = { clock: undefined, records: [], own: undefined };
      this.#clients.set(clientId, client);
    }
    return client;
  }

  /** The limit that applies to the client: its own, or the defaults. */
  limitOf(clientId: string): ModelLimit {
    return { ...(this.#client(clientId).own ?? this.#defaults) };
  }

  /** What `getLimit` answers: the client's own limit, or the defaults. */
  getLimit(clientId: string): ModelLimit {
    return this.limitOf(clientId);
  }

  /** The client's clock T in seconds, or undefined before its first allowed request. */
  clockOf(clientId: string): number | undefined {
    const clock = this.#client(clientId).clock;
    return clock === undefined ? undefined : clock / 1000;
  }

  /** The client's bucket width g: it follows its own window. */
  bucketOf(clientId: string): number {
    return bucketOf(this.limitOf(clientId).windowSeconds, this.#bucketMs);
  }

  check(clientId: string, timestamp: number, cost: number): ModelDecision {
    const client = this.#client(clientId);
    const limit = this.limitOf(clientId);
    const W = limit.windowSeconds * 1000;
    const g = this.bucketOf(clientId);
    const t = msOf(timestamp);
    const e = client.clock === undefined ? t : Math.max(t, client.clock);
    const used = usedAt(client.records, e, W, g);
    const allowed = used + cost <= limit.limit;
    let retryAfter = 0;
    if (!allowed) retryAfter = cost > limit.limit ? Infinity : leastDelay(client.records, e, W, g, (u) => u + cost <= limit.limit) / 1000;
    if (allowed) {
      client.records.push({ slot: e, cost });
      client.clock = e;
    }
    const usedAfter = usedAt(client.records, e, W, g);
    const resetAfter = usedAfter === 0 ? 0 : leastDelay(client.records, e, W, g, (u) => u < usedAfter) / 1000;
    return {
      allowed,
      limit: limit.limit,
      windowSeconds: limit.windowSeconds,
      remaining: Math.max(0, limit.limit - used - (allowed ? cost : 0)),
      retryAfter,
      resetAfter,
      timestamp: e / 1000,
      source: 'store',
    };
  }

  /**
   * The SPEC's window-change rule: the units counted at the client's clock T under the old limit
   * (buckets b_old(T - W_old_ms + 1) and newer) are kept, the rest dropped for good; each kept unit
   * moves to the new bucket of min(end of its old bucket, T).
   */
  updateLimit(clientId: string, limit: number, windowSeconds: number): void {
    const client = this.#client(clientId);
    const old = this.limitOf(clientId);
    if (windowSeconds !== old.windowSeconds && client.clock !== undefined) {
      const T = client.clock;
      const gOld = bucketOf(old.windowSeconds, this.#bucketMs);
      const firstKept = Math.floor((T - old.windowSeconds * 1000 + 1) / gOld);
      client.records = client.records
        .filter((r) => Math.floor(r.slot / gOld) >= firstKept)
        .map((r) => ({ slot: Math.min((Math.floor(r.slot / gOld) + 1) * gOld - 1, T), cost: r.cost }));
    }
    client.own = { limit, windowSeconds };
  }
}

interface CounterClient {
  clock: number | undefined;
  /** Every allowed request (slot: its effective time in ms): the two counters are recomputed from it on each call. */
  admitted: Recorded[];
}

/**
 * The SPEC's 'sliding-counter' for a fixed (limit, window), on ms time: fixed windows aligned to
 * multiples of W_ms, estimate = prev * (W_ms - (e mod W_ms)) / W_ms + curr, allowed iff
 * floor(estimate) + c <= L. Per-client limits are not modelled (how the counter carries its counts
 * over a window change is the implementation's choice, not the SPEC's); the contract checks those
 * decisions for consistency.
 */
export class SlidingCounterModel {
  readonly #limit: ModelLimit;
  readonly #clients = new Map<string, CounterClient>();

  constructor(limit: ModelLimit) {
    this.#limit = { ...limit };
  }

  #client(clientId: string): CounterClient {
    let client = this.#clients.get(clientId);
    if (client === undefined) {
      client = { clock: undefined, admitted: [] };
      this.#clients.set(clientId, client);
    }
    return client;
  }

  /** Every allowed request of the client so far, at its effective time in ms. */
  admitted(clientId: string): readonly Recorded[] {
    return this.#client(clientId).admitted;
  }

  /** floor(estimate) at time `at` (ms), from the admitted history. */
  #usedAt(admitted: readonly Recorded[], at: number): number {
    const W = this.#limit.windowSeconds * 1000;
    const index = Math.floor(at / W);
    let prev = 0;
    let curr = 0;
    for (const r of admitted) {
      if (r.slot > at) continue;
      const rIndex = Math.floor(r.slot / W);
      if (rIndex === index - 1) prev += r.cost;
      if (rIndex === index) curr += r.cost;
    }
    return Math.floor((prev * (W - (at - index * W))) / W + curr);
  }

  /**
   * The least d in 1 .. 2 W_ms with `fits(used(e + d))`: with no new traffic the estimate never
   * rises (inside a window prev's weight falls; at a boundary curr becomes prev at full weight), so
   * a binary search finds it; after 2 W_ms both windows have passed and the estimate is 0.
   */
  #leastDelay(admitted: readonly Recorded[], e: number, fits: (used: number) => boolean): number {
    let lo = 1;
    let hi = 2 * this.#limit.windowSeconds * 1000;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      if (fits(this.#usedAt(admitted, e + mid))) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  check(clientId: string, timestamp: number, cost: number): ModelDecision {
    const client = this.#client(clientId);
    const { limit: L, windowSeconds } = this.#limit;
    const t = msOf(timestamp);
    const e = client.clock === undefined ? t : Math.max(t, client.clock);
    const used = this.#usedAt(client.admitted, e);
    const allowed = used + cost <= L;
    let retryAfter = 0;
    if (!allowed) retryAfter = cost > L ? Infinity : this.#leastDelay(client.admitted, e, (u) => u + cost <= L) / 1000;
    if (allowed) {
      client.admitted.push({ slot: e, cost });
      client.clock = e;
    }
    const usedAfter = this.#usedAt(client.admitted, e);
    const resetAfter = usedAfter > 0 ? this.#leastDelay(client.admitted, e, (u) => u < usedAfter) / 1000 : 0;
    return {
      allowed,
      limit: L,
      windowSeconds,
      remaining: Math.max(0, L - usedAfter),
      retryAfter,
      resetAfter,
      timestamp: e / 1000,
      source: 'store',
    };
  }
}

/**
 * The SPEC's guarantee, in real time: the most cost admitted at effective times (ms) inside any
 * interval of `windowMs` (at ms resolution). Every interval's content is at most what the interval
 * ending at one of its admitted times holds, so checking those is enough.
 */
export function mostInAnyWindow(admitted: readonly { at: number; cost: number }[], windowMs: number): number {
  const sorted = [...admitted].sort((a, b) => a.at - b.at);
  let most = 0;
  let inWindow = 0;
  let from = 0;
  for (const r of sorted) {
    inWindow += r.cost;
    while ((sorted[from] as { at: number }).at <= r.at - windowMs) inWindow -= (sorted[from++] as { cost: number }).cost;
    most = Math.max(most, inWindow);
  }
  return most;
}

/** Every field of a decision but `source` (and the store-only `granted`): what two ways of deciding must agree on. */
export function decisionFields({ allowed, limit, windowSeconds, remaining, retryAfter, resetAfter, timestamp }: Decision): Partial<Decision> {
  return { allowed, limit, windowSeconds, remaining, retryAfter, resetAfter, timestamp };
}
