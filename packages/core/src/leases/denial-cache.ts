import type { Decision } from '../types';

/**
 * Clients remembered at once. Past it the oldest denial is forgotten (its client's next request asks
 * the store again), so a flood of distinct over-limit keys costs bounded memory.
 */
export const DENIAL_CACHE_MAX_CLIENTS = 100_000;

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
      return undefined;
    }
    if (tMs < entry.atMs || cost !== entry.cost || factor !== entry.factor) return undefined;
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
    if (entries.has(clientId)) entries.delete(clientId);
    else if (entries.size >= this.#maxClients) entries.delete(entries.keys().next().value as string);
    entries.set(clientId, { cost, factor, atMs, untilMs, retryAtMs, resetAtMs, decision });
    return decision;
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
