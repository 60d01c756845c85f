/** What the lease manager knows about a client when it asks the store for a lease. */
export interface LeaseSizeInput {
  /** The client's remaining quota as last seen by this instance (store's remaining + this instance's unspent units). */
  remaining: number;
  /** Cost of the request that makes the acquisition (always decided first, by the store). */
  cost: number;
  /** Units this instance decided for the client since its previous acquisition: the recent demand. */
  spent: number;
  /** Units of requests already queued behind this acquisition. */
  waiting: number;
  /** Ms since the client's previous acquisition was sent (Infinity for its first): with `spent`, its rate. */
  elapsedMs: number;
  /** How long a lease may wait for its next request before it is given back (idleMs, and at most its spending life). */
  horizonMs: number;
  /** How long the lease could be spent: to the end of the request's bucket, at most its spending life. */
  spendMs: number;
  /**
   * The client's rate in units per ms, measured over at least RATE_TRUSTED_AFTER_MS (what this
   * instance decided for it, or what it kept asking for while a cached denial answered it); 0 when unknown.
   */
  unitsPerMs: number;
  maxUnits: number;
  share: number;
}

/**
 * A rate measured over less than this many ms (requests that came at once) may not last: it may
 * only double the last lease. Over this span or more it sizes leases (`unitsPerMs`).
 */
export const RATE_TRUSTED_AFTER_MS = 10;

/**
 * Extra units to ask for beyond `cost`. Grows with demand (twice what the last lease served, or
 * everything already queued, or the client's measured rate), so a client seen once costs no lease
 * at all; but no more than the client's recent rate would spend within `horizonMs`, so a client
 * seen a few times a second gets none (a lease given back idle would cost a round trip of its own).
 * Takes at most `share` of what would remain after this request, so that other instances find
 * quota too, except what this instance will itself spend, at its measured rate, before the lease
 * can no longer be spent: those units are used at once wherever they are leased, and sizing by them
 * lets a client at its limit (a flood) be served in one store call a bucket instead of many ever
 * smaller leases.
 */
export function leaseSize(input: LeaseSizeInput): number {
  const expected = Math.floor((input.spent * input.horizonMs) / Math.max(1, input.elapsedMs));
  const demand = Math.max(Math.min(2 * input.spent, expected), Math.floor(input.unitsPerMs * input.horizonMs), input.waiting);
  const fair = Math.floor(Math.max(0, input.remaining - input.cost) * input.share);
  const own = Math.min(demand, Math.max(input.waiting, Math.floor(input.unitsPerMs * input.spendMs)));
  return Math.max(0, Math.min(input.maxUnits, Math.max(fair, own), demand));
}
