import { ErrorCodes } from './errors';
import { FAULT_OPTION_KEYS, parseFaultOptions, type FaultOptions } from './faults/fault-options';
import { parseLeaseOptions, type ParsedLeaseOptions } from './leases/lease-options';
import { parseAdaptiveOptions, type ParsedAdaptiveOptions } from './adaptive/adaptive-options';
import { parseMetricsOptions, type ParsedMetricsOptions } from './metrics/metrics-options';
import { MemoryStore } from './stores/memory-store';
import { checkPolicyMode, parsePolicyOptions, type ParsedPolicyOptions } from './policies/policy-options';
import type { PolicyRateLimiterOptions } from './policies/policy-types';
import type { Algorithm, RateLimiterOptions, Store } from './types';
import {
  checkAlgorithm,
  checkBucketMs,
  checkFunction,
  checkKnownKeys,
  checkLimit,
  checkPlainObject,
  checkWindowSeconds,
  describe,
} from './validate';
import { rangeError, typeError } from './errors';

/** `RateLimiterOptions` with every default filled in and every value validated. */
export interface ParsedOptions {
  limit: number;
  windowSeconds: number;
  store: Store;
  /** True when the limiter made the store and so must close it. */
  ownsStore: boolean;
  algorithm: Algorithm;
  /** The `bucketMs` option; undefined for the default width ceil(W_ms / 60). */
  bucketMs: number | undefined;
  now: () => number;
  /** Timeout, breaker and failure mode; applied only to a store that is not `inProcess`. */
  faults: FaultOptions;
  /** Local quota leases, or `undefined` when off. */
  lease: ParsedLeaseOptions | undefined;
  /** True when repeated denials are answered locally (`RateLimiterOptions.denialCache`). */
  denialCache: boolean;
  /** Metrics, or `undefined` when off. */
  metrics: ParsedMetricsOptions | undefined;
  /** Load-adaptive limits, or `undefined` when off. */
  adaptive: ParsedAdaptiveOptions | undefined;
  /** Several policies per client, tiers, shadow mode (policies/policy-options.ts). */
  policy: ParsedPolicyOptions;
  /** How far (seconds) a check's timestamp may lie ahead of `now()`; Infinity: no bound. */
  maxClockSkewSeconds: number;
}

const KNOWN_OPTIONS = ['limit', 'windowSeconds', 'store', 'algorithm', 'bucketMs', 'now', 'lease', 'denialCache', 'metrics', 'adaptive', 'policies', 'tiers', 'shadow', 'maxClockSkewSeconds', ...FAULT_OPTION_KEYS] as const;
const STORE_METHODS = ['check', 'release', 'getLimit', 'setLimit', 'onLimitChange', 'close'] as const;

export const DEFAULT_ALGORITHM: Algorithm = 'sliding-window';
export const defaultNow = (): number => Date.now() / 1000;
/**
 * Five minutes: far beyond the drift of hosts kept by NTP and the delay of a queued request, and
 * still about a million times less than the error of passing `Date.now()` (milliseconds) as seconds.
 */
export const DEFAULT_MAX_CLOCK_SKEW_SECONDS = 300;

/** Validates once, fills defaults with `??` (so 0 stays legal), and never mutates the caller's object. */
export function parseOptions(options: RateLimiterOptions | PolicyRateLimiterOptions): ParsedOptions {
  const o = checkPlainObject(options, 'RateLimiter options');
  checkKnownKeys(o, KNOWN_OPTIONS, 'RateLimiter options');
  const policy = parsePolicyOptions(o);
  // With `policies`, the first (shortest window) stands in for limit and windowSeconds: it is what a fallback decides with.
  const first = o.policies !== undefined ? policy.policies?.[0] : undefined;
  const limitOption = first === undefined ? o.limit : first.limit;
  const windowOption = first === undefined ? o.windowSeconds : first.windowSeconds;
  if (limitOption === undefined) throw typeError(ErrorCodes.INVALID_OPTION, 'slidegate: RateLimiter options.limit is required (an integer >= 0)');
  if (windowOption === undefined) {
    throw typeError(ErrorCodes.INVALID_OPTION, 'slidegate: RateLimiter options.windowSeconds is required (an integer number of seconds >= 1)');
  }
  const limit = checkLimit(limitOption, 'RateLimiter options.limit', ErrorCodes.INVALID_OPTION);
  const windowSeconds = checkWindowSeconds(windowOption, 'RateLimiter options.windowSeconds', ErrorCodes.INVALID_OPTION);
  const algorithm = checkAlgorithm(o.algorithm ?? DEFAULT_ALGORITHM, 'RateLimiter options.algorithm');
  const bucketMs = o.bucketMs === undefined ? undefined : checkBucketMs(o.bucketMs, 'RateLimiter options.bucketMs');
  const now = o.now === undefined ? defaultNow : checkFunction<() => number>(o.now, 'RateLimiter options.now');
  const metrics = parseMetricsOptions(o.metrics);
  const adaptive = parseAdaptiveOptions(o.adaptive);
  let store: Store;
  let ownsStore = false;
  if (o.store === undefined) {
    store = new MemoryStore({ now });
    ownsStore = true;
  } else {
    store = checkStore(o.store);
  }
  const faults = parseFaultOptions(o, store);
  const lease = parseLeaseOptions(o.lease, store);
  const denialCache = parseDenialCache(o.denialCache, store);
  if (policy.policies !== undefined) checkPolicyMode(store, algorithm);
  const maxClockSkewSeconds = checkClockSkew(o.maxClockSkewSeconds ?? DEFAULT_MAX_CLOCK_SKEW_SECONDS);
  return { limit, windowSeconds, store, ownsStore, algorithm, bucketMs, now, faults, lease, denialCache, metrics, adaptive, policy, maxClockSkewSeconds };
}

function checkClockSkew(value: unknown): number {
  const message = `slidegate: RateLimiter options.maxClockSkewSeconds must be a number of seconds >= 0 (Infinity: no bound); got ${describe(value)}`;
  if (typeof value !== 'number') throw typeError(ErrorCodes.INVALID_OPTION, message);
  if (Number.isNaN(value) || value < 0) throw rangeError(ErrorCodes.INVALID_OPTION, message);
  return value;
}

function checkStore(store: unknown): Store {
  if (typeof store !== 'object' || store === null) {
    throw typeError(ErrorCodes.INVALID_OPTION, `slidegate: RateLimiter options.store must be a Store (MemoryStore, RedisStore, ...); got ${describe(store)}`);
  }
  for (const method of STORE_METHODS) {
    if (typeof (store as Record<string, unknown>)[method] !== 'function') {
      throw typeError(
        ErrorCodes.INVALID_OPTION,
        `slidegate: RateLimiter options.store must implement the Store interface; its ${method}() is missing`,
      );
    }
  }
  return store as Store;
}

/** Left out: on for a shared store, where each denial would otherwise be a round trip; off in-process, where it saves nothing. */
function parseDenialCache(value: unknown, store: Store): boolean {
  if (value === undefined) return store.shared === true;
  if (typeof value !== 'boolean') throw typeError(ErrorCodes.INVALID_OPTION, `slidegate: RateLimiter options.denialCache must be a boolean; got ${describe(value)}`);
  return value;
}
