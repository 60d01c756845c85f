import type { Decision } from '../types';

/**
 * Clients remembered at once. Past it the oldest denial is forgotten (its client's next request asks
 * the store again), so a flood of distinct over-limit keys costs bounded memory.
 */
export const DENIAL_CACHE_MAX_CLIENTS = 100_000;

/**
 * The client's demand while denied is counted over spans of at least this many ms (the last full
 * span and the current one): long enough to average a few requests, short enough to follow a flood.
 */
export const DEMAND_SPAN_MS = 50;

/** What a denial that just ran out saw of its client: how fast it kept asking. */
export interface LapsedDenial {
  /** Units per ms of the requests it answered over its last one to two spans (DEMAND_SPAN_MS). */
  unitsPerMs: number;
  /** The denial's window (s): the width of its buckets, with the limiter's bucketMs. */
  windowSeconds: number;
}

interface CachedDenial {
  /** The denied request's cost: only requests of this cost are answered from the entry. */
  cost: number;
  /** The adaptive limit factor the store decided with; another factor may allow, so it misses. */
  factor: number;
  /** The denial's effective time, ms. */
  atMs: number;
  /** Until when the entry answers: the first moment a counted unit leaves the window or the request may pass. */
  untilMs: number;
  /** When the same request may pass (`atMs + retryAfter`); Infinity when it costs more than the limit. */
  retryAtMs: number;
  /** When the oldest counted unit leaves (`atMs + resetAfter`); 0 when nothing is counted. */
  resetAtMs: number;
  decision: Decision;
  /** Units answered since `spanFromMs`, and in the span before it (from `prevFromMs`): the client's demand. */
  spanUnits: number;
  spanFromMs: number;
  prevUnits: number;
  prevFromMs: number;
  lastHitMs: number;
}

/**
 * Remembers the store's denials, so that a client over its limit costs the store nothing until its
 * `retryAfter` has passed. Sound because `retryAfter` is the least wait after which the same request
 * could be allowed with no other traffic: traffic on other instances only adds units, so until then
 * the store would deny too. The one exception, capacity freed early elsewhere (a lease given back),
 * makes a cached denial under-admit, never over-admit. Limit changes invalidate an entry (the
 * limiter forwards them here); denials of the fallback are never remembered.
 *
 * An entry answers only from its denial's time until the first counted unit leaves the window, and
 * only requests of the same cost at or after that time: in between, with no other traffic, the
 * window is unchanged, so the answer is the store's to the field (`remaining`, `retryAfter`,
 * `resetAfter` from the request's time), `source` aside. A late request asks the store, which alone
 * knows the client's clock.
 */
export class DenialCache {
  readonly #entries = new Map<string, CachedDenial>();
  readonly #maxClients: number;
  /** The client whose denial ran out at the last lookup, and what it saw (see `takeLapsed`). */
  #lapsedClient: string | undefined;
  #lapsedAtMs = 0;
  #lapsed: LapsedDenial = { unitsPerMs: 0, windowSeconds: 0 };

  constructor(maxClients = DENIAL_CACHE_MAX_CLIENTS) {
    this.#maxClients = maxClients;
  }

  /** Clients with a remembered denial (some may have run out and not been looked up since). */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * The remembered denial of this request (`source: 'cache'`, its times moved to `timestamp`), or
   * `undefined` when the store must decide. `tMs` is the request's time in whole ms on the limiter's clock.
   */
  lookup(clientId: string, tMs: number, cost: number, factor: number): Decision | undefined {
    const entry = this.#entries.get(clientId);
    if (entry === undefined) return undefined;
    if (tMs >= entry.untilMs) {
      this.#entries.delete(clientId);
      this.#lapse(clientId, entry, tMs);
      return undefined;
    }
    if (tMs < entry.atMs || cost !== entry.cost || factor !== entry.factor) return undefined;
    if (tMs - entry.spanFromMs >= DEMAND_SPAN_MS) {
      entry.prevUnits = entry.spanUnits;
      entry.prevFromMs = entry.spanFromMs;
      entry.spanUnits = 0;
      entry.spanFromMs = tMs;
    }
    entry.spanUnits += cost;
    entry.lastHitMs = tMs;
    return {
      ...entry.decision,
      retryAfter: (entry.retryAtMs - tMs) / 1000,
      resetAfter: entry.resetAtMs === 0 ? 0 : (entry.resetAtMs - tMs) / 1000,
      timestamp: tMs / 1000,
      source: 'cache',
    };
  }

  /**
   * Remembers `decision` if it is a store's denial of a request of `cost`; returns it either way. An
   * allowance forgets the client's denial: the units it recorded change the figures a denial reports.
   */
  remember(clientId: string, decision: Decision, cost: number, factor: number): Decision {
    if (decision.allowed) {
      this.forgetAllowed(clientId);
      return decision;
    }
    if (decision.source !== 'store' || !(decision.retryAfter > 0)) return decision;
    const atMs = Math.round(decision.timestamp * 1000);
    const retryAtMs = decision.retryAfter === Infinity ? Infinity : atMs + Math.round(decision.retryAfter * 1000);
    const resetAtMs = decision.resetAfter > 0 ? atMs + Math.round(decision.resetAfter * 1000) : 0;
    // Bounded by a window too: a request costing more than the limit waits for a limit change, which might go unheard.
    const untilMs = Math.min(retryAtMs, resetAtMs === 0 ? Infinity : resetAtMs, atMs + decision.windowSeconds * 1000);
    if (untilMs <= atMs) return decision;
    const entries = this.#entries;
    const known = entries.get(clientId);
    // The same denial told twice (the lease manager, then the limiter) keeps what it has counted.
    if (known !== undefined && known.atMs === atMs && known.untilMs === untilMs && known.cost === cost && known.factor === factor) return decision;
    if (known !== undefined) entries.delete(clientId);
    else if (entries.size >= this.#maxClients) entries.delete(entries.keys().next().value as string);
    entries.set(clientId, { cost, factor, atMs, untilMs, retryAtMs, resetAtMs, decision, spanUnits: 0, spanFromMs: atMs, prevUnits: 0, prevFromMs: atMs, lastHitMs: atMs });
    return decision;
  }

  /** True when the client's denial ran out at the last lookup while it was still asking (see `takeLapsed`). */
  hasLapsed(clientId: string): boolean {
    return this.#lapsedClient === clientId;
  }

  /**
   * What the client's denial saw of it, if that denial ran out at the last lookup, at `tMs` or just
   * before: the store call that follows can size a lease for a client that is still flooding.
   * Taken once; `undefined` when the client had stopped asking before its denial ran out.
   */
  takeLapsed(clientId: string, tMs: number): LapsedDenial | undefined {
    if (this.#lapsedClient !== clientId) return undefined;
    this.#lapsedClient = undefined;
    return tMs - this.#lapsedAtMs <= DEMAND_SPAN_MS ? this.#lapsed : undefined;
  }

  #lapse(clientId: string, entry: CachedDenial, tMs: number): void {
    // A client that stopped asking a span ago is not flooding any more.
    if (tMs - entry.lastHitMs > DEMAND_SPAN_MS || entry.spanUnits + entry.prevUnits === 0) {
      this.#lapsedClient = undefined;
      return;
    }
    this.#lapsedClient = clientId;
    this.#lapsedAtMs = tMs;
    const fromMs = entry.prevUnits > 0 ? entry.prevFromMs : entry.spanFromMs;
    this.#lapsed = { unitsPerMs: (entry.spanUnits + entry.prevUnits) / (entry.lastHitMs - fromMs + 1), windowSeconds: entry.decision.windowSeconds };
  }

  /** After this instance allowed a request of the client (from the store or a lease): its denial's figures are stale. */
  forgetAllowed(clientId: string): void {
    if (this.#entries.size > 0) this.#entries.delete(clientId);
  }

  /** Forgets the client's denial: its limit changed. */
  invalidate(clientId: string): void {
    this.#entries.delete(clientId);
  }

  /** Forgets every denial: some limit may have changed unseen. */
  invalidateAll(): void {
    this.#entries.clear();
  }
}
