import type { ClientLimit, Decision, RateLimiterOptions, StoreDecision } from '../types';

/**
 * Public types of multi-policy limits (policy mode): several limits per client decided in one
 * atomic step, named tiers, shadow mode and reservations settled after the fact.
 */

/** One policy's figures in a multi-policy decision. */
export interface PolicyStatus {
  limit: number;
  windowSeconds: number;
  /** `limit - used - (allowed ? cost : 0)` for this policy, never below 0. */
  remaining: number;
  /** Seconds until the oldest unit in this policy's window leaves it; 0 when it holds none. */
  resetAfter: number;
  /** True when this policy alone would have allowed the request. */
  allows: boolean;
}

/**
 * A decision of a limiter in policy mode. `limit`, `windowSeconds`, `remaining`, `retryAfter` and
 * `resetAfter` describe the binding policy (`policy`): when denied, the denying policy that keeps
 * the client waiting longest; when allowed, the policy with the least remaining.
 */
export interface PolicyDecision extends Decision {
  /** The policy that limited (or would next limit) the request. */
  policy: ClientLimit;
  /** Every policy that applied, shortest window first. */
  policies: PolicyStatus[];
  /**
   * Present and true when the decision was made in shadow mode (the limiter's `shadow` option or
   * the client's own): `allowed` is then always true and `wouldAllow` tells the real answer.
   */
  shadow?: boolean;
  /** In shadow mode: what the decision would have been. A would-be denial recorded nothing. */
  wouldAllow?: boolean;
}

/** What a store answers in policy mode. */
export interface PolicyStoreDecision extends StoreDecision {
  policy: ClientLimit;
  policies: PolicyStatus[];
  /** True when the client's own config puts it in shadow mode (the limiter relabels the decision). */
  shadow?: boolean;
}

/** A client's own configuration in policy mode; every field is optional. */
export interface ClientPolicyConfig {
  /** The named tier (plan) the client is on; a tier no instance knows falls back to the limiter's default policies. */
  tier?: string;
  /**
   * The client's own policies. Without a tier they replace the defaults; with a tier they are laid
   * over the tier's policies (a policy with the same window replaces the tier's, others are added).
   */
  policies?: ClientLimit[];
  /** Shadow mode for this client alone: decisions never block, would-be denials record nothing. */
  shadow?: boolean;
}

/** A named plan: its policies. */
export type TierTable = Record<string, ClientLimit[]>;

/**
 * What a policy-mode limiter passes as `defaults` in every store request (check, release, setLimit),
 * so that the wrappers between the limiter and the store (leases, timeouts, metrics) carry it
 * untouched. `limit`/`windowSeconds` are the first default policy (what a fallback decides with).
 */
export interface PolicyDefaults extends ClientLimit {
  policies: readonly ClientLimit[];
  /** The tier table in force on this instance (replaced, never mutated, when a tier changes). */
  tiers: TierTable;
  /** `tiers` serialized for Redis ARGV ('name=L:W,L:W;name2=...'); '' when there are none. */
  tierArg: string;
  /** `policies` serialized for Redis ARGV ('L:W,L:W'). */
  policyArg: string;
  /** The limiter's `bucketMs` option, for calls that carry no check request (release, settle). */
  bucketMs?: number | undefined;
}

/** A reserved estimate, from `RateLimiter.reserve`; give it to `settle` once the true cost is known. */
export interface Reservation {
  readonly clientId: string;
  /** The effective time, in seconds with ms precision, at which the estimate was recorded (the decision's `timestamp`). */
  readonly at: number;
  readonly estimate: number;
  /** True when the estimate was recorded (allowed, and not a shadow would-be denial). */
  readonly recorded: boolean;
  readonly decision: PolicyDecision;
}

/** Settling: `units` > 0 charges more at `at`, < 0 refunds. */
export interface StoreSettleRequest {
  clientId: string;
  /** Whole ms. */
  at: number;
  units: number;
  defaults: PolicyDefaults;
  limitFactor: number;
}

/** A request to store a client's policy config (replaces any earlier one). */
export interface StoreSetPoliciesRequest {
  clientId: string;
  config: ClientPolicyConfig;
}

/**
 * The optional store methods of policy mode (MemoryStore and RedisStore implement them). In policy
 * mode a store's `check`, `release` and `setLimit` see `defaults` as a `PolicyDefaults`.
 */
export interface PolicyStore {
  setPolicies(request: StoreSetPoliciesRequest): Promise<void>;
  getPolicies(clientId: string): Promise<ClientPolicyConfig | undefined>;
  settle(request: StoreSettleRequest): Promise<void>;
  /** Stores a tier's definition (undefined removes it) and tells every instance on the store. */
  setTier(name: string, policies: ClientLimit[] | undefined): Promise<void>;
  /** The tiers stored with `setTier`. */
  getTiers(): Promise<TierTable>;
  /** Calls `listener` when a tier changes on any instance, or may have changed unseen. */
  onTierChange(listener: () => void): () => void;
}

/** A policy decision in shadow mode, relabelled so that nothing blocks on it. */
export function shadowDecision<D extends Decision>(decision: D): D & { shadow: true; wouldAllow: boolean } {
  return { ...decision, allowed: true, retryAfter: 0, shadow: true, wouldAllow: decision.allowed };
}

export type { ClientLimit };

/**
 * `RateLimiter` options in policy mode: `policies` (several limits for every client by default)
 * instead of `limit` and `windowSeconds`.
 */
export type PolicyRateLimiterOptions = Omit<RateLimiterOptions, 'limit' | 'windowSeconds'> & {
  /**
   * The default policies, 1 to 8 with distinct windows: a request is allowed only if every one
   * allows it, and is then recorded in all of them (one atomic step). Needs algorithm 'sliding-window'.
   */
  policies: ClientLimit[];
  limit?: undefined;
  windowSeconds?: undefined;
};

/** Options of `RateLimiter.reserve`. */
export interface ReserveOptions {
  /** Units to reserve now, an integer >= 1 (settle with the true cost later). */
  estimate: number;
  /** @default now */
  timestamp?: number;
}
