/**
 * Reference models of the SPEC's decision rules, written as plainly as possible so that they are
 * obviously right: every client keeps its whole history as a list and every figure is recomputed
 * from that list on every call. They are slow on purpose and share no code with `src/`.
 */

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

interface Recorded {
  at: number;
  cost: number;
}

interface ExactClient {
  /** The newest effective time of an allowed request; undefined until the first one. */
  clock: number | undefined;
  records: Recorded[];
  own: ModelLimit | undefined;
}

/** Total cost of the records at times in (at - windowSeconds, at]. */
export function usedAt(records: readonly Recorded[], at: number, windowSeconds: number): number {
  let used = 0;
  for (const r of records) {
    if (r.at > at - windowSeconds && r.at <= at) used += r.cost;
  }
  return used;
}

/**
 * The least d >= 1 such that a request of `cost` at e + d would be allowed with no other traffic.
 * With no new traffic used(e + d) only falls, and only when a record leaves the window, at
 * d = r.at + W - e; so the answer is 1 or one of those d, and trying them in order finds the least.
 * (test/model.test.ts checks this against a second-by-second scan.)
 */
export function leastRetryDelay(records: readonly Recorded[], e: number, limit: ModelLimit, cost: number): number {
  if (cost > limit.limit) return Infinity;
  const candidates = [1, ...records.map((r) => r.at + limit.windowSeconds - e).filter((d) => d > 1)].sort((a, b) => a - b);
  for (const d of candidates) {
    if (usedAt(records, e + d, limit.windowSeconds) + cost <= limit.limit) return d;
  }
  throw new Error('model: no delay found; unreachable, since after the newest record leaves nothing is used');
}

/** The same answer by trying every second: only for small windows (used to test the model itself). */
export function leastRetryDelayByScan(records: readonly Recorded[], e: number, limit: ModelLimit, cost: number): number {
  if (cost > limit.limit) return Infinity;
  for (let d = 1; ; d++) {
    if (usedAt(records, e + d, limit.windowSeconds) + cost <= limit.limit) return d;
  }
}

/** The exact sliding window of the SPEC ('sliding-window' and 'sliding-log' decide the same). */
export class ExactWindowModel {
  readonly #defaults: ModelLimit;
  readonly #clients = new Map<string, ExactClient>();

  constructor(defaults: ModelLimit) {
    this.#defaults = { ...defaults };
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

  /** The client's clock T, or undefined before its first allowed request. */
  clockOf(clientId: string): number | undefined {
    return this.#client(clientId).clock;
  }

  check(clientId: string, timestamp: number, cost: number): ModelDecision {
    const client = this.#client(clientId);
    const limit = this.limitOf(clientId);
    const t = Math.floor(timestamp);
    const e = client.clock === undefined ? t : Math.max(t, client.clock);
    const used = usedAt(client.records, e, limit.windowSeconds);
    const allowed = used + cost <= limit.limit;
    const retryAfter = allowed ? 0 : leastRetryDelay(client.records, e, limit, cost);
    if (allowed) {
      client.records.push({ at: e, cost });
      client.clock = e;
    }
    const inWindow = client.records.filter((r) => r.at > e - limit.windowSeconds && r.at <= e);
    const oldest = inWindow.length === 0 ? undefined : Math.min(...inWindow.map((r) => r.at));
    return {
      allowed,
      limit: limit.limit,
      windowSeconds: limit.windowSeconds,
      remaining: Math.max(0, limit.limit - used - (allowed ? cost : 0)),
      retryAfter,
      resetAfter: oldest === undefined ? 0 : oldest + limit.windowSeconds - e,
      timestamp: e,
      source: 'store',
    };
  }

  /**
   * The SPEC's window-change rule: when the window changes, the records that had already left the
   * OLD window at the client's clock T are dropped for good, so a longer window never brings them back.
   */
  updateLimit(clientId: string, limit: number, windowSeconds: number): void {
    const client = this.#client(clientId);
    const old = this.limitOf(clientId);
    if (windowSeconds !== old.windowSeconds && client.clock !== undefined) {
      const clock = client.clock;
      client.records = client.records.filter((r) => r.at > clock - old.windowSeconds);
    }
    client.own = { limit, windowSeconds };
  }
}

interface CounterClient {
  clock: number | undefined;
  /** Every allowed request: the two counters are recomputed from it on each call. */
  admitted: Recorded[];
}

/**
 * The SPEC's 'sliding-counter' for a fixed (limit, window): fixed windows aligned to multiples of W,
 * estimate = prev * (W - (e mod W)) / W + curr, allowed iff floor(estimate) + c <= L. Per-client
 * limits are not modelled (how the counter carries its counts over a window change is the
 * implementation's choice, not the SPEC's); the contract checks those decisions for consistency.
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

  /** Every allowed request of the client so far, at its effective time. */
  admitted(clientId: string): readonly Recorded[] {
    return this.#client(clientId).admitted;
  }

  /** floor(estimate) at second `at`, from the admitted history. */
  #usedAt(admitted: readonly Recorded[], at: number): number {
    const W = this.#limit.windowSeconds;
    const index = Math.floor(at / W);
    let prev = 0;
    let curr = 0;
    for (const r of admitted) {
      if (r.at > at) continue;
      const rIndex = Math.floor(r.at / W);
      if (rIndex === index - 1) prev += r.cost;
      if (rIndex === index) curr += r.cost;
    }
    return Math.floor((prev * (W - (at - index * W))) / W + curr);
  }

  check(clientId: string, timestamp: number, cost: number): ModelDecision {
    const client = this.#client(clientId);
    const { limit: L, windowSeconds: W } = this.#limit;
    const t = Math.floor(timestamp);
    const e = client.clock === undefined ? t : Math.max(t, client.clock);
    const used = this.#usedAt(client.admitted, e);
    const allowed = used + cost <= L;
    let retryAfter = 0;
    if (!allowed) {
      retryAfter = Infinity;
      // Both aligned windows have passed after at most 2W seconds, so a scan that far is enough.
      if (cost <= L) {
        for (let d = 1; d <= 2 * W + 1; d++) {
          if (this.#usedAt(client.admitted, e + d) + cost <= L) {
            retryAfter = d;
            break;
          }
        }
      }
    }
    if (allowed) {
      client.admitted.push({ at: e, cost });
      client.clock = e;
    }
    const usedAfter = this.#usedAt(client.admitted, e);
    let resetAfter = 0;
    if (usedAfter > 0) {
      for (let d = 1; d <= 2 * W + 1; d++) {
        if (this.#usedAt(client.admitted, e + d) < usedAfter) {
          resetAfter = d;
          break;
        }
      }
    }
    return {
      allowed,
      limit: L,
      windowSeconds: W,
      remaining: Math.max(0, L - usedAfter),
      retryAfter,
      resetAfter,
      timestamp: e,
      source: 'store',
    };
  }
}
