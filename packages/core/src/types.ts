import type { StoreError } from './errors';
import type { Breaker, CircuitBreakerOptions } from './faults/circuit-breaker';
import type { AdaptiveOptions } from './adaptive/adaptive-options';
import type { MetricsOptions } from './metrics/metrics-options';
import type { PolicyStatus } from './policies/policy-types';

/**
 * Public types of slidegate's core. Everything here is part of the documented API; internal
 * shapes live in `internal-types.ts`.
 */

/**
 * How a store counts a client's window.
 * - `'sliding-window'`: exact in real time; one count per bucket of `g` ms that holds an allowed
 *   request (at most ceil(W_ms / g) + 1 counts a client; see `bucketMs`).
 * - `'sliding-log'`: the decisions of `'sliding-window'` with `g` = 1 ms, kept as a log (one entry
 *   per allowed request).
 * - `'sliding-counter'`: the two-counter approximation over fixed windows aligned to multiples of W.
 */
export type Algorithm = 'sliding-window' | 'sliding-log' | 'sliding-counter';

/**
 * Where a decision was made: `'store'` (the store's atomic check), `'lease'` (local quota leased from
 * the store), `'cache'` (a denial repeated locally until the store's `retryAfter` runs out; see
 * `RateLimiterOptions.denialCache`) or `'fallback'` (the store failed).
 */
export type DecisionSource = 'store' | 'lease' | 'cache' | 'fallback';

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
  /**
   * 0 when allowed; otherwise seconds (ms precision, at least 0.001) until the same request would
   * be allowed with no other traffic; `Infinity` when cost > limit.
   */
  retryAfter: number;
  /** Seconds (ms precision) from the effective time until the oldest counted bucket leaves the window; 0 when none is counted. */
  resetAfter: number;
  /** The effective time `e = max(t, T)` at which the request was evaluated, in seconds with ms precision. */
  timestamp: number;
  source: DecisionSource;
  /** Policy mode: the policy that limited (or would next limit) the request; the fields above describe it. */
  policy?: ClientLimit;
  /** Policy mode: every policy that applied, shortest window first (see `PolicyDecision`). */
  policies?: PolicyStatus[];
  /** Shadow mode: true, and `allowed` is then always true. */
  shadow?: boolean;
  /** Shadow mode: what the decision would have been; a would-be denial recorded nothing. */
  wouldAllow?: boolean;
}

/** Options of one `check()` call. */
export interface CheckOptions {
  /**
   * Seconds since the Unix epoch; fractions below a millisecond are floored.
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
  /** Whole milliseconds since the epoch, or `undefined` to use the store's own clock (see `Store.hasOwnClock`). */
  timestamp: number | undefined;
  /**
   * The limiter's `bucketMs` option: the client's bucket width is min(bucketMs, W_ms) for the window
   * W that applies to it; `undefined` (or absent) for the default ceil(W_ms / 60).
   */
  bucketMs?: number | undefined;
  /**
   * Units that must all be granted for the request to be allowed. 0 for a lease refill, which
   * decides no request: it records `extra` as far as the window allows, as any grant does.
   */
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
   * Lease: unspent units recorded earlier at time `at` (ms), removed before the check. Removing
   * units that were never spent is always safe: no admitted request depends on them.
   */
  release?: LeaseRelease | undefined;
  /**
   * Load-adaptive limits: the limit that applies is floor(limit * limitFactor), for the client's own
   * limit and the defaults alike. 1 leaves limits as configured.
   */
  limitFactor: number;
}

/**
 * Unspent leased units to give back: `units` recorded at effective time `at` (ms). The store removes
 * them from the bucket that holds `at` (or an earlier one, never a later one: see SPEC, leases).
 */
export interface LeaseRelease {
  at: number;
  units: number;
  /**
   * The newest effective time (ms) the lease decided, when later than `at`: leased units are spent
   * up to the end of their bucket, and the store moves the client's clock T up to it (never back),
   * as if those requests had come to it. Only for `'sliding-window'` and `'sliding-log'` outside
   * policy mode.
   */
  clock?: number | undefined;
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
  /** The limiter's `bucketMs` option (see `StoreCheckRequest.bucketMs`): kept units move to buckets of the new width. */
  bucketMs?: number | undefined;
}

/** What `Store.deleteLimit` needs: the client, and the defaults and algorithm it returns to. */
export type StoreDeleteLimitRequest = Omit<StoreSetLimitRequest, 'limit'>;

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
  /**
   * True for a store that lives in this process and cannot fail or block on I/O (MemoryStore).
   * `RateLimiter` calls such a store directly, with no timeout, breaker or fallback, so it keeps
   * its full speed. Leave it out (or false) for any store that talks to a server.
   * @default false
   */
  readonly inProcess?: boolean;
  /**
   * True for a store that several instances (processes, hosts) share, such as RedisStore. Every
   * decision then costs a round trip, so `RateLimiter` turns on local quota leases by default
   * (`lease`, unless the store keeps its own clock) and answers repeated denials locally
   * (`denialCache`). Leave it out (or false) for a store that lives in one process.
   * @default false
   */
  readonly shared?: boolean;
  /**
   * Optional, for an `inProcess` store: `check` answered synchronously. With metrics on, the limiter
   * counts the decision as it returns instead of chaining a `.then` onto its promise, which would
   * cost an in-memory decision about a quarter of its speed.
   */
  checkSync?(request: StoreCheckRequest): StoreDecision;
  /**
   * Optional: records instance `instanceId` as alive for `ttlSeconds` (0: removes it now) and
   * returns how many instances are alive, this one included. With it, the `'local'` failure mode
   * shares each limit among the live instances instead of the configured `instances`. An instance
   * is a process: its limiters on one store share one heartbeat, under one id.
   */
  heartbeat?(instanceId: string, ttlSeconds: number): Promise<number>;
  /**
   * Optional: where the store lives, for messages about its failures (`127.0.0.1:6379`); never a
   * password or other secret.
   */
  readonly endpoint?: string;
  /**
   * Optional, for load-adaptive limits shared by every instance (`adaptive.scope: 'shared'`):
   * records this instance's factor proposal for `ttlSeconds` (0: withdraws it) and returns the
   * smallest live proposal of the group, this one included. MemoryStore shares among the limiters
   * on it; a Redis store implements it with `redisShareFactor` (adaptive/redis-shared-factor.ts).
   */
  shareFactor?(proposal: FactorProposal): Promise<number>;
  /** Atomic check-and-record (and lease grant/release) for one client. */
  check(request: StoreCheckRequest): Promise<StoreDecision>;
  /** Gives back unspent leased units without checking anything. */
  release(clientId: string, algorithm: Algorithm, release: LeaseRelease, defaults: ClientLimit): Promise<void>;
  /**
   * Optional: forgets every unit recorded for the client, under every algorithm, and its clock, in one
   * atomic step; its own limit stays. Without it, `RateLimiter.reset()` is refused.
   */
  reset?(clientId: string): Promise<void>;
  /** The client's own limit, or `undefined` when it has none. */
  getLimit(clientId: string): Promise<ClientLimit | undefined>;
  /**
   * Stores the client's own limit and applies the window-change rule atomically: requests recorded
   * inside the old window at the client's clock keep counting, older ones never come back.
   */
  setLimit(request: StoreSetLimitRequest): Promise<void>;
  /**
   * Optional: removes the client's own limit (in policy mode, its whole config), atomically under the
   * same window-change rule as a `setLimit` back to the defaults, and announces it like a limit change.
   * Own limits never expire, so this is how one goes. Without it, `RateLimiter.deleteLimit()` is refused.
   */
  deleteLimit?(request: StoreDeleteLimitRequest): Promise<void>;
  /**
   * Calls `listener` with a client id whenever that client's limit changes (on any instance that
   * shares the store), or with `undefined` when any client's limit may have changed unseen (for
   * example after the store's subscription reconnected). Returns a function that unsubscribes.
   */
  onLimitChange(listener: (clientId: string | undefined) => void): () => void;
  /** Releases timers and connections the store owns. */
  close(): Promise<void>;
}

/**
 * How a decision is made when the store fails, times out, or its circuit breaker is open:
 * - `'local'`: an in-process window per client with `ceil(L / instances)`, never more than `L`.
 * - `'open'`: allow every request (availability first; no limit while the store is down).
 * - `'closed'`: deny every request (protection first; nothing passes while the store is down).
 * Every such decision has `source: 'fallback'`.
 */
export type FailureMode = 'local' | 'open' | 'closed';

/** Tuning of local quota leases (`RateLimiterOptions.lease`). */
export interface LeaseOptions {
  /**
   * The most units one lease may hold beyond the request that acquires it, an integer >= 1. It
   * bounds what an instance that dies holding leases keeps from others: at most this many units
   * per client, until they leave the window.
   * @default 1000
   */
  maxUnits?: number;
  /**
   * The fraction of a client's remaining quota one lease may take, in (0, 1]. Smaller leaves more
   * for other instances near the limit; leases shrink to nothing as the client nears its limit
   * (with 4 instances each offering twice the limit, 0.1 keeps >= 99% of L in use per window),
   * except for what this instance will itself spend before the lease ends (requests queued, and
   * its measured rate to the end of the lease's bucket), which a lease may take beyond it.
   * @default 0.1
   */
  share?: number;
  /**
   * A lease not used for this many milliseconds is given back to the store, an integer 10..1000.
   * (A lease is also spent for at most 300 ms after it was granted, whatever this says.)
   * @default 200
   */
  idleMs?: number;
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
   * The width in ms of the buckets a window is counted in: each client's bucket is
   * `min(bucketMs, W_ms)` for its own window W. A unit is counted at most `g - 1` ms longer than W
   * (under-admission only); memory is at most ceil(W_ms / g) + 1 counts a client. 1 is exact to the
   * millisecond. An integer >= 1.
   * @default ceil(W_ms / 60): 17 ms for W = 1 s, 1 s for 60 s, 60 s for 1 h
   */
  bucketMs?: number;
  /**
   * The clock, in seconds since the Unix epoch (fractions allowed); used when a check gives no timestamp.
   * @default () => Date.now() / 1000
   */
  now?: () => number;
  /**
   * Local quota leases: `true` (or `LeaseOptions`) lets this instance take a small batch of a hot
   * client's quota from the store and decide the following requests in-process, so a hot client
   * costs one store call per batch instead of one per request. The shared window stays exact (no
   * window ever holds more than L); other instances may be denied while units sit leased here
   * (under-admission, bounded by `maxUnits` per client per instance). Not available with a store
   * that keeps its own clock (`hasOwnClock`). `false` turns leases off. See docs/leases.md.
   * @default true for a `shared` store (RedisStore) that does not keep its own clock; false otherwise
   */
  lease?: boolean | LeaseOptions;
  /**
   * Local denial cache: once the store denies a client with `retryAfter` r, this instance answers
   * the client's requests of the same cost as denied (`source: 'cache'`) until r has passed, without
   * asking the store, or until the client's limit changes (here or on any instance). It never admits
   * more; it may deny a request that capacity freed early on another instance (a returned lease)
   * would have let through. An over-limit client then costs the store nothing until it may pass.
   * `false` asks the store for every request not decided from a lease.
   * @default true for a `shared` store (RedisStore); false otherwise
   */
  denialCache?: boolean;
  /**
   * What decides when the store fails, takes longer than `timeoutMs`, or its breaker is open.
   * Ignored for an in-process store (`MemoryStore`), which cannot fail that way.
   * @default 'local'
   */
  failureMode?: FailureMode;
  /**
   * Deadline of each store call, in milliseconds; a call still unanswered then is decided in
   * fallback (and never retried: it may still run on the store). Keep it a few ms above the
   * store's p99 latency; the default leaves room for every decision to answer within 250 ms.
   * Limit reads and writes (`getLimit`, `updateLimit`) are not decisions and get at least 1000 ms.
   * @default 50
   */
  timeoutMs?: number;
  /**
   * The circuit breaker around the store: options for the built-in `CircuitBreaker`, or your own
   * object implementing `Breaker` (`acquire`, `success`, `failure`).
   * @default a `CircuitBreaker` with its defaults (opens after 5 failures in a row or a 50% failure
   * rate over 20+ calls in 5 s; one probe after 125 ms, the wait doubling per failed probe up to 1 s)
   */
  breaker?: CircuitBreakerOptions | Breaker;
  /**
   * The least number of instances (processes) sharing the store, for the `'local'` share
   * `ceil(L / instances)`. When the store supports heartbeats (RedisStore does), the live count of
   * processes raises it automatically; the limiters of one process count once.
   * @default 1
   */
  instances?: number;
  /**
   * Called with each store failure (a coded `StoreError`). By default each error code is reported
   * once per outage with `process.emitWarning`, naming the store's endpoint, and the recovery once
   * more (warning code `SLIDEGATE_STORE_RECOVERED`); limiters on one store share these lines.
   * @default one warning per code per outage, and one when the store recovers
   */
  onError?: (error: StoreError) => void;
  /**
   * Prometheus metrics (`slidegate_*`, through prom-client, loaded only when this is on) and the
   * figures behind the status page (`statusSnapshot`). `true` uses prom-client's global registry and
   * the label `name="default"`.
   * @default false
   */
  metrics?: boolean | MetricsOptions;
  /**
   * Load-adaptive limits: every client's limit is scaled by a factor that falls while a load signal
   * (by default the event-loop delay) is over its target and recovers below it. `true` uses the defaults.
   * @default false
   */
  adaptive?: boolean | AdaptiveOptions;
  /**
   * Named plans (`{ free: [{ limit: 10, windowSeconds: 1 }, ...], pro: [...] }`) that clients join
   * with `updatePolicies(client, { tier })`. Puts the limiter in policy mode (see `policies` in
   * `PolicyRateLimiterOptions`); tiers stored with `setTier` win over these.
   * @default no tiers
   */
  tiers?: Record<string, ClientLimit[]>;
  /**
   * How far ahead of the limiter's clock (`now()`) a check's `timestamp` may be, in seconds; a
   * timestamp further ahead is refused with a RangeError, since it would move the client's clock
   * forward and deny it until real time catches up (the usual cause: `Date.now()`, which is in
   * milliseconds, passed as seconds). Past timestamps are always accepted (replays, late requests).
   * `Infinity` turns the check off (simulations that run ahead of real time).
   * @default 300
   */
  maxClockSkewSeconds?: number;
  /**
   * Shadow mode: every decision is computed, counted and reported, but never blocks (`allowed` is
   * always true; `wouldAllow` has the real answer). A would-be denial records nothing.
   * @default false
   */
  shadow?: boolean;
}

/** A factor proposal for `Store.shareFactor`. */
export interface FactorProposal {
  /** Limiters with the same group share one factor. */
  group: string;
  /** Identifies the proposing limiter instance. */
  instanceId: string;
  /** The proposed factor, 0 < factor <= 1. */
  factor: number;
  /** Seconds the proposal stays live; 0 withdraws it. */
  ttlSeconds: number;
}
