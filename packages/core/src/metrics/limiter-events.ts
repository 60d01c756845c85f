/** States of the circuit breaker around the store (the same names as `CircuitBreaker.state`). */
export type BreakerState = 'closed' | 'open' | 'half-open';

/**
 * What the modules between the limiter and the store report to whoever observes the limiter
 * (today: `LimiterMetrics`). Every method is optional to call and cheap: a few additions on plain
 * numbers, never a Prometheus call, so callers may report from their hot paths.
 *
 * Who calls what:
 * - the resilient store wrapper (faults): `storeRoundTrip` after every answered store call,
 *   `storeError` for every failed or timed-out one, `breakerState` on every transition;
 * - the lease manager (leases): `leaseGranted` when the store grants units, `leaseReturned` when
 *   unspent units go back;
 * - `RateLimiter` itself: decisions, `configUpdated`, `adaptiveFactor`;
 * - anything that keeps per-client state in this process: `trackClients` with a counting function.
 *
 * Modules receive it as an optional `events?: LimiterEvents` and call it only when present, so a
 * limiter without metrics pays one `undefined` check.
 */
export interface LimiterEvents {
  /** One store call answered (successfully) after `seconds`. `operation` is the Store method: 'check', 'release', ... */
  storeRoundTrip(operation: string, seconds: number): void;
  /** One store call failed; `code` is the error's stable code (e.g. ERR_SLIDEGATE_STORE_TIMEOUT) or 'unknown'. */
  storeError(code: string): void;
  /** The store granted `units` leased units in one grant. */
  leaseGranted(units: number): void;
  /** `units` unspent leased units went back to the store. */
  leaseReturned(units: number): void;
  /** The breaker moved to `state`. */
  breakerState(state: BreakerState): void;
  /** A client's limit was changed through this limiter. */
  configUpdated(): void;
  /** The adaptive factor now applied to every limit. */
  adaptiveFactor(factor: number): void;
  /**
   * Registers a function that counts clients held in this process (store windows, leases, local
   * fallback windows); the gauge is their sum, read only when scraped. Returns an unregister function.
   */
  trackClients(count: () => number): () => void;
}

/** The part of an EventEmitter `watchBreaker` needs. */
export interface BreakerEmitter {
  on(event: 'open' | 'halfOpen' | 'close', listener: () => void): unknown;
  off(event: 'open' | 'halfOpen' | 'close', listener: () => void): unknown;
}

/**
 * Reports a breaker's transitions (`CircuitBreaker` emits 'open', 'halfOpen' and 'close') to
 * `events`. Returns a function that stops listening.
 */
export function watchBreaker(breaker: BreakerEmitter, events: LimiterEvents): () => void {
  const open = (): void => events.breakerState('open');
  const halfOpen = (): void => events.breakerState('half-open');
  const close = (): void => events.breakerState('closed');
  breaker.on('open', open);
  breaker.on('halfOpen', halfOpen);
  breaker.on('close', close);
  return () => {
    breaker.off('open', open);
    breaker.off('halfOpen', halfOpen);
    breaker.off('close', close);
  };
}
