/**
 * Public types of slidegate's core. Everything here is part of the documented API; internal
 * shapes live in `internal-types.ts`.
 */

/**
 * How a store counts a client's window.
 * - `'sliding-window'`: exact; one count per second that holds an allowed request.
 * - `'sliding-log'`: exact, the same decisions, kept as a log (one entry per allowed request).
 * - `'sliding-counter'`: the two-counter approximation over fixed windows aligned to multiples of W.
 */
export type Algorithm = 'sliding-window' | 'sliding-log' | 'sliding-counter';

/** Where a decision was made. */
export type DecisionSource = 'store' | 'lease' | 'fallback';

/** A client's limit: at most `limit` units in any window of `windowSeconds` seconds. */
export interface ClientLimit {
  /** Integer >= 0; 0 blocks everything. */
  limit: number;
  /** Integer seconds, 1 <= windowSeconds <= 31,536,000. */
  windowSeconds: number;
}

/** The outcome of one `check()`. Being limited is a result, never an exception. */
export interface Decision {
  allowed: boolean;
  /** The limit `L` that applied. */
  limit: number;
  /** The window `W`, in seconds, that applied. */
  windowSeconds: number;
  /** `L - used(e) - (allowed ? cost : 0)`, never below 0. */
  remaining: number;
  /** 0 when allowed; otherwise whole seconds until the same request would be allowed; `Infinity` when cost > limit. */
  retryAfter: number;
  /** Seconds from the effective time until the oldest recorded unit leaves the window; 0 when none is recorded. */
  resetAfter: number;
  /** The effective time `e = max(t, T)` at which the request was evaluated, in whole seconds. */
  timestamp: number;
  source: DecisionSource;
}

/** Options of one `check()` call. */
export interface CheckOptions {
  /**
   * Seconds since the Unix epoch; fractions are floored.
   * @default the limiter's `now()` (or the store's clock, for a store that keeps its own)
   */
  timestamp?: number;
  /**
   * Units this request consumes, an integer >= 1.
   * @default 1
   */
  cost?: number;
}

/**
 * One atomic check-and-record, with everything the store needs to decide on its own.
 * The store resolves the client's own limit (set with `setLimit`) and falls back to `defaults`.
 */
export interface StoreCheckRequest {
  clientId: string;
  /** Whole seconds, or `undefined` to use the store's own clock (see `Store.hasOwnClock`). */
  timestamp: number | undefined;
  /** Units that must all be granted for the request to be allowed. */
  cost: number;
  /** The limiter's default limit, used when the client has none of its own. */
  defaults: ClientLimit;
  algorithm: Algorithm;
  /**
   * Lease: extra units to record beyond `cost`, granted only as far as they fit after `cost`
   * (0 for a plain check). Recorded at the effective time like the request itself.
   */
  extra: number;
  /**
   * Lease: unspent units recorded earlier at second `at`, removed before the check. Removing
   * units that were never spent is always safe: no admitted request depends on them.
   */
  release?: LeaseRelease | undefined;
  /**
   * Load-adaptive limits: the limit that applies is floor(limit * limitFactor), for the client's own
   * limit and the defaults alike. 1 leaves limits as configured.
   */
  limitFactor: number;
}

/** Unspent leased units to give back: `units` recorded at second `at`. */
export interface LeaseRelease {
  at: number;
  units: number;
}

/** A store's answer: a decision plus how many extra (leased) units it recorded. */
export interface StoreDecision extends Decision {
  /** Extra units recorded for a lease; 0 unless the request was allowed and `extra` > 0. */
  granted: number;
}

/** A request to set a client's own limit. */
export interface StoreSetLimitRequest {
  clientId: string;
  limit: ClientLimit;
  /** The limiter's defaults, which were in force if the client had no limit of its own. */
  defaults: ClientLimit;
  algorithm: Algorithm;
}

/**
 * The one interface every backend implements. `RateLimiter` and everything above it talk to a
 * store only through these calls, so nothing outside a store knows which store it has.
 *
 * Contract: `check` is atomic per client (concurrent calls behave as if made one after another),
 * records nothing when it denies, and computes every field from one snapshot. Every counting key
 * expires after its window of inactivity; client limits never expire.
 */
export interface Store {
  /** True when the store decides with its own clock when `timestamp` is undefined (e.g. Redis `TIME`). */
  readonly hasOwnClock: boolean;
  /** Atomic check-and-record (and lease grant/release) for one client. */
  check(request: StoreCheckRequest): Promise<StoreDecision>;
  /** Gives back unspent leased units without checking anything. */
  release(clientId: string, algorithm: Algorithm, release: LeaseRelease, defaults: ClientLimit): Promise<void>;
  /** The client's own limit, or `undefined` when it has none. */
  getLimit(clientId: string): Promise<ClientLimit | undefined>;
  /**
   * Stores the client's own limit and applies the window-change rule atomically: requests recorded
   * inside the old window at the client's clock keep counting, older ones never come back.
   */
  setLimit(request: StoreSetLimitRequest): Promise<void>;
  /**
   * Calls `listener` with a client id whenever that client's limit changes (on any instance that
   * shares the store), or with `undefined` when any client's limit may have changed unseen (for
   * example after the store's subscription reconnected). Returns a function that unsubscribes.
   */
  onLimitChange(listener: (clientId: string | undefined) => void): () => void;
  /** Releases timers and connections the store owns. */
  close(): Promise<void>;
}

/** Options of `RateLimiter`. */
export interface RateLimiterOptions {
  /** Default limit for clients without their own, an integer >= 0. Required. */
  limit: number;
  /** Default window in seconds for clients without their own, 1..31,536,000. Required. */
  windowSeconds: number;
  /**
   * Where counts and client limits live.
   * @default a new in-process `MemoryStore`
   */
  store?: Store;
  /**
   * @default 'sliding-window'
   */
  algorithm?: Algorithm;
  /**
   * The clock, in seconds since the Unix epoch (fractions allowed); used when a check gives no timestamp.
   * @default () => Date.now() / 1000
   */
  now?: () => number;
}
