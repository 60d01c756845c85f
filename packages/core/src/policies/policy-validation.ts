import { ErrorCodes, rangeError, typeError, type ErrorCode } from '../errors';
import type { ClientLimit } from '../types';
import { checkKnownKeys, checkLimit, checkPlainObject, checkWindowSeconds, describe } from '../validate';
import type { ClientPolicyConfig, PolicyDefaults, TierTable } from './policy-types';

/** The most policies one client may have (its own and its tier's together). */
export const MAX_POLICIES = 8;
/** Tier names: short and safe in a Redis ARGV list ('name=L:W,...;...'). */
const TIER_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/** A non-empty list of at most MAX_POLICIES policies with distinct windows, returned sorted by window. */
export function checkPolicies(value: unknown, name: string, code: ErrorCode = ErrorCodes.INVALID_ARGUMENT): ClientLimit[] {
  if (!Array.isArray(value)) throw typeError(code, `slidegate: ${name} must be an array of { limit, windowSeconds }; got ${describe(value)}`);
  if (value.length === 0 || value.length > MAX_POLICIES) {
    throw rangeError(code, `slidegate: ${name} must hold 1 to ${MAX_POLICIES} policies; got ${value.length}`);
  }
  const policies = value.map((p: unknown, i) => {
    const o = checkPlainObject(p, `${name}[${i}]`, code);
    checkKnownKeys(o, ['limit', 'windowSeconds'], `${name}[${i}]`);
    return {
      limit: checkLimit(o.limit, `${name}[${i}].limit`, code),
      windowSeconds: checkWindowSeconds(o.windowSeconds, `${name}[${i}].windowSeconds`, code),
    };
  });
  policies.sort((a, b) => a.windowSeconds - b.windowSeconds);
  for (let i = 1; i < policies.length; i++) {
    if ((policies[i] as ClientLimit).windowSeconds === (policies[i - 1] as ClientLimit).windowSeconds) {
      throw rangeError(code, `slidegate: ${name} has two policies with windowSeconds ${(policies[i] as ClientLimit).windowSeconds}; each window may appear once`);
    }
  }
  return policies;
}

export function checkTierName(value: unknown, name: string, code: ErrorCode = ErrorCodes.INVALID_ARGUMENT): string {
  if (typeof value !== 'string') throw typeError(code, `slidegate: ${name} must be a string of 1 to 64 letters, digits, '_', '.' or '-'; got ${describe(value)}`);
  if (!TIER_NAME.test(value)) throw rangeError(code, `slidegate: ${name} must be 1 to 64 letters, digits, '_', '.' or '-'; got ${describe(value)}`);
  return value;
}

export function checkTiers(value: unknown, name: string, code: ErrorCode = ErrorCodes.INVALID_OPTION): TierTable {
  const o = checkPlainObject(value, name, code);
  const tiers: TierTable = {};
  for (const [tier, policies] of Object.entries(o)) {
    checkTierName(tier, `${name} key`, code);
    tiers[tier] = checkPolicies(policies, `${name}.${tier}`, code);
  }
  return tiers;
}

export function checkPolicyConfig(value: unknown, name: string): ClientPolicyConfig {
  const o = checkPlainObject(value, name, ErrorCodes.INVALID_ARGUMENT);
  checkKnownKeys(o, ['tier', 'policies', 'shadow'], name);
  const config: ClientPolicyConfig = {};
  if (o.tier !== undefined) config.tier = checkTierName(o.tier, `${name}.tier`);
  if (o.policies !== undefined) config.policies = checkPolicies(o.policies, `${name}.policies`);
  if (o.shadow !== undefined) {
    if (typeof o.shadow !== 'boolean') throw typeError(ErrorCodes.INVALID_ARGUMENT, `slidegate: ${name}.shadow must be a boolean; got ${describe(o.shadow)}`);
    config.shadow = o.shadow;
  }
  return config;
}

/** 'L:W,L:W' */
export function serializePolicies(policies: readonly ClientLimit[]): string {
  return policies.map((p) => `${p.limit}:${p.windowSeconds}`).join(',');
}

export function parsePolicies(text: string): ClientLimit[] {
  if (text === '') return [];
  return text.split(',').map((pair) => {
    const [limit, windowSeconds] = pair.split(':');
    return { limit: Number(limit), windowSeconds: Number(windowSeconds) };
  });
}

/** 'name=L:W,L:W;name2=...', names sorted so that equal tables serialize equally. */
export function serializeTiers(tiers: TierTable): string {
  return Object.keys(tiers)
    .sort()
    .map((name) => `${name}=${serializePolicies(tiers[name] as ClientLimit[])}`)
    .join(';');
}

export function makePolicyDefaults(policies: readonly ClientLimit[], tiers: TierTable, bucketMs?: number): PolicyDefaults {
  const first = policies[0] as ClientLimit;
  return {
    limit: first.limit,
    windowSeconds: first.windowSeconds,
    policies,
    tiers,
    tierArg: serializeTiers(tiers),
    policyArg: serializePolicies(policies),
    bucketMs,
  };
}

/** True when a store request's defaults come from a limiter in policy mode. */
export function isPolicyDefaults(defaults: ClientLimit): defaults is PolicyDefaults {
  return (defaults as Partial<PolicyDefaults>).policyArg !== undefined;
}

/**
 * The policies that apply to a client, shortest window first. With a tier: the tier's policies
 * (the defaults' when the tier is unknown) with the client's own laid over them by window (same
 * window: replaced; a new window: added). Without a tier: the client's own policies, else the
 * defaults. The Redis script resolves the same way (policy-scripts.ts RESOLVE).
 */
export function effectivePolicies(config: ClientPolicyConfig | undefined, defaults: PolicyDefaults): ClientLimit[] {
  const own = config?.policies;
  if (config?.tier === undefined) return (own ?? defaults.policies) as ClientLimit[];
  const base = defaults.tiers[config.tier] ?? defaults.policies;
  if (own === undefined) return base as ClientLimit[];
  const byWindow = new Map<number, number>();
  for (const p of base) byWindow.set(p.windowSeconds, p.limit);
  for (const p of own) byWindow.set(p.windowSeconds, p.limit);
  return [...byWindow.entries()].sort((a, b) => a[0] - b[0]).map(([windowSeconds, limit]) => ({ limit, windowSeconds }));
}
