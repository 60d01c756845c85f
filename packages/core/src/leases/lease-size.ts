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
  maxUnits: number;
  share: number;
}

/**
 * Extra units to ask for beyond `cost`. Grows with demand (twice what the last lease served, or
 * everything already queued), so a client seen once costs no lease at all; but no more than the
 * client's recent rate would spend within `horizonMs`, so a client seen a few times a second gets
 * none (a lease given back idle would cost a round trip of its own).
 * Takes at most `share` of what would remain after this request, so leases shrink to nothing near
 * the limit, where every request is then decided by the store exactly as without leases.
 */
export function leaseSize(input: LeaseSizeInput): number {
  const expected = Math.floor((input.spent * input.horizonMs) / Math.max(1, input.elapsedMs));
  const demand = Math.max(Math.min(2 * input.spent, expected), input.waiting);
  const fair = Math.floor(Math.max(0, input.remaining - input.cost) * input.share);
  return Math.max(0, Math.min(input.maxUnits, fair, demand));
}
