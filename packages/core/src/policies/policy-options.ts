import { ErrorCodes, rangeError, typeError } from '../errors';
import type { Algorithm, ClientLimit, Store } from '../types';
import { describe } from '../validate';
import type { PolicyStore, TierTable } from './policy-types';
import { checkPolicies, checkTiers } from './policy-validation';

/** The policy-mode options of `RateLimiter`, validated. */
export interface ParsedPolicyOptions {
  /** The default policies, shortest window first; undefined when the limiter is not in policy mode. */
  policies: ClientLimit[] | undefined;
  tiers: TierTable;
  shadow: boolean;
}

const POLICY_STORE_METHODS = ['setPolicies', 'getPolicies', 'settle', 'setTier', 'getTiers', 'onTierChange'] as const;

/**
 * Reads `policies`, `tiers` and `shadow`. A limiter is in policy mode when it has `policies` or
 * `tiers`; its default policies are then `policies`, or `[{ limit, windowSeconds }]`.
 */
export function parsePolicyOptions(o: Record<string, unknown>): ParsedPolicyOptions {
  let shadow = false;
  if (o.shadow !== undefined) {
    if (typeof o.shadow !== 'boolean') throw typeError(ErrorCodes.INVALID_OPTION, `slidegate: RateLimiter options.shadow must be a boolean; got ${describe(o.shadow)}`);
    shadow = o.shadow;
  }
  const tiers = o.tiers === undefined ? {} : checkTiers(o.tiers, 'RateLimiter options.tiers');
  if (o.policies === undefined && o.tiers === undefined) return { policies: undefined, tiers, shadow };
  if (o.policies !== undefined) {
    if (o.limit !== undefined || o.windowSeconds !== undefined) {
      throw typeError(
        ErrorCodes.INVALID_OPTION,
        'slidegate: RateLimiter options.policies replaces options.limit and options.windowSeconds; give either policies or limit and windowSeconds',
      );
    }
    return { policies: checkPolicies(o.policies, 'RateLimiter options.policies', ErrorCodes.INVALID_OPTION), tiers, shadow };
  }
  // tiers with limit/windowSeconds: those are the one default policy (checked by parseOptions).
  return { policies: [{ limit: o.limit as number, windowSeconds: o.windowSeconds as number }], tiers, shadow };
}

/** Policy mode needs the exact window and a store that implements `PolicyStore`. */
export function checkPolicyMode(store: Store, algorithm: Algorithm): PolicyStore {
  if (algorithm !== 'sliding-window') {
    throw rangeError(
      ErrorCodes.INVALID_OPTION,
      `slidegate: RateLimiter options.policies and options.tiers need algorithm 'sliding-window'; got algorithm ${describe(algorithm)}`,
    );
  }
  for (const method of POLICY_STORE_METHODS) {
    if (typeof (store as unknown as Record<string, unknown>)[method] !== 'function') {
      throw typeError(
        ErrorCodes.INVALID_OPTION,
        `slidegate: RateLimiter options.policies and options.tiers need a store with several policies per client (MemoryStore, RedisStore); its ${method}() is missing`,
      );
    }
  }
  return store as unknown as PolicyStore;
}
