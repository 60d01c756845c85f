import { ErrorCodes, rangeError, typeError } from '../errors';
import type { LeaseOptions } from '../types';
import { checkKnownKeys, checkPlainObject, describe } from '../validate';

/** `LeaseOptions` with every default filled in and every value validated. */
export interface ParsedLeaseOptions {
  maxUnits: number;
  share: number;
  idleMs: number;
}

export const DEFAULT_LEASE_OPTIONS: Readonly<ParsedLeaseOptions> = Object.freeze({
  maxUnits: 1000,
  share: 0.1,
  idleMs: 200,
});

/**
 * How long a lease may be given back, measured from when its acquisition was sent. A store keeps a
 * client's counts at least one window (>= 1 s) after its last write, so within this age the leased
 * units are certainly still recorded; an older lease is dropped without a release (its units leave
 * the window on their own), since a release could then hit a fresh key.
 */
export const LEASE_MAX_AGE_MS = 500;

/**
 * How long a lease may be spent. Shorter than LEASE_MAX_AGE_MS so that a busy client's lease is
 * retired (given back by its next store call) on the hot path, without relying on the sweep timer.
 */
export const LEASE_SPEND_MS = 300;

const KNOWN = ['maxUnits', 'share', 'idleMs'] as const;
const NAME = 'RateLimiter options.lease';
export const MIN_IDLE_MS = 10;
export const MAX_IDLE_MS = 1000;

/** What the lease default depends on: a store's `shared` and `hasOwnClock` flags. */
export interface LeaseStoreTraits {
  readonly hasOwnClock: boolean;
  readonly shared?: boolean;
}

/**
 * `false` turns leases off; `true` takes the defaults; an object overrides them field by field.
 * Left out, leases are on for a shared store (where every decision is a round trip) that does not
 * keep its own clock, and off otherwise: an in-process store decides as fast as a lease would.
 */
export function parseLeaseOptions(value: unknown, store: LeaseStoreTraits): ParsedLeaseOptions | undefined {
  if (value === undefined) return store.shared === true && !store.hasOwnClock ? { ...DEFAULT_LEASE_OPTIONS } : undefined;
  if (value === false) return undefined;
  checkLeaseStore(store);
  if (value === true) return { ...DEFAULT_LEASE_OPTIONS };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw typeError(ErrorCodes.INVALID_OPTION, `slidegate: ${NAME} must be true, false or a LeaseOptions object; got ${describe(value)}`);
  }
  const o = checkPlainObject(value, NAME) as Record<string, unknown> & LeaseOptions;
  checkKnownKeys(o, KNOWN, NAME);
  return {
    maxUnits: integerIn(o.maxUnits ?? DEFAULT_LEASE_OPTIONS.maxUnits, `${NAME}.maxUnits`, 1, Number.MAX_SAFE_INTEGER),
    share: shareOf(o.share ?? DEFAULT_LEASE_OPTIONS.share),
    idleMs: integerIn(o.idleMs ?? DEFAULT_LEASE_OPTIONS.idleMs, `${NAME}.idleMs`, MIN_IDLE_MS, MAX_IDLE_MS),
  };
}

function integerIn(value: unknown, name: string, min: number, max: number): number {
  if (typeof value !== 'number') throw typeError(ErrorCodes.INVALID_OPTION, `slidegate: ${name} must be an integer from ${min} to ${max}; got ${describe(value)}`);
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw rangeError(ErrorCodes.INVALID_OPTION, `slidegate: ${name} must be an integer from ${min} to ${max}; got ${describe(value)}`);
  }
  return value;
}

function shareOf(value: unknown): number {
  const name = `${NAME}.share`;
  if (typeof value !== 'number') throw typeError(ErrorCodes.INVALID_OPTION, `slidegate: ${name} must be a number in (0, 1]; got ${describe(value)}`);
  if (!Number.isFinite(value) || value <= 0 || value > 1) {
    throw rangeError(ErrorCodes.INVALID_OPTION, `slidegate: ${name} must be a number greater than 0 and at most 1; got ${describe(value)}`);
  }
  return value;
}

/**
 * Leases need to know which second a request falls in: with a store that decides time by its own
 * clock (RedisStore `clock: 'redis'`) the instance cannot tell, so the combination is refused
 * rather than risking a unit spent in a second the store has already left.
 */
function checkLeaseStore(store: LeaseStoreTraits): void {
  if (store.hasOwnClock) {
    throw typeError(
      ErrorCodes.INVALID_OPTION,
      `slidegate: ${NAME} cannot be used with a store that keeps its own clock (hasOwnClock: true, e.g. RedisStore clock: 'redis'): ` +
        "a local lease cannot tell which of the store's seconds a request falls in; use the store's default caller clock, or lease: false",
    );
  }
}
