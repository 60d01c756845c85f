import { ErrorCodes, rangeError, typeError } from '../errors';
import { RateLimiter } from '../rate-limiter';
import type { Decision, RateLimiterOptions, Store } from '../types';
import {
  checkAlgorithm,
  checkCost,
  checkFunction,
  checkKnownKeys,
  checkLimit,
  checkPlainObject,
  describe,
} from '../validate';
import { windowSecondsOf } from '../duration';
import { DEFAULT_HEADERS_MODE, HEADER_MODES } from './headers';
import type { HeadersMode, HttpRateLimitOptions, LimitedBody, MaybePromise, StoreErrorAction, UnknownAddressAction } from './types';

/** Every option of `HttpRateLimitOptions`; adapters add their own names. */
export const HTTP_OPTION_NAMES = [
  'limiter',
  'limit',
  'windowSeconds',
  'windowMs',
  'store',
  'algorithm',
  'limiterOptions',
  'keyGenerator',
  'cost',
  'skip',
  'allowList',
  'statusCode',
  'message',
  'handler',
  'onLimited',
  'skipFailedRequests',
  'skipSuccessfulRequests',
  'requestWasSuccessful',
  'headers',
  'ipv6Subnet',
  'name',
  'prefix',
  'onStoreError',
  'unknownAddress',
] as const;

export const DEFAULT_STATUS_CODE = 429;
/**
 * Requests without a client address pass unlimited (with one warning). The cause is a deployment
 * setting (a Unix socket, a proxy chain that trust proxy does not cover) that hits every request
 * alike: 'pool' would let one client use up everyone's limit and 'deny' would refuse every request
 * of a working site, while a client cannot make its own address unknown (a non-IP value in
 * X-Forwarded-For is keyed by the connecting peer). As `onStoreError` defaults to 'allow'.
 */
export const DEFAULT_UNKNOWN_ADDRESS: UnknownAddressAction = 'skip';
export const DEFAULT_MESSAGE = 'Too many requests, please try again later.';
export const DEFAULT_IPV6_SUBNET = 56;
/** Room left for the key itself after the prefix. */
const MAX_PREFIX_BYTES = 512;

/** `HttpRateLimitOptions` validated, with every default filled in. */
export interface ParsedHttpOptions<Req, Handler> {
  limiter: RateLimiter;
  /** True when the options described the limiter inline, so the middleware made it and closes it. */
  ownsLimiter: boolean;
  /** The inline store, when one was given (to detect two limiters sharing a key space). */
  store: Store | undefined;
  keyGenerator: ((req: Req) => MaybePromise<string>) | undefined;
  cost: number | ((req: Req) => MaybePromise<number>);
  skip: ((req: Req) => MaybePromise<boolean>) | undefined;
  allowList: ReadonlySet<string> | ((req: Req, key: string) => MaybePromise<boolean>) | undefined;
  statusCode: number;
  /** The body, serialised once when static. */
  message: LimitedBody | ((req: Req, decision: Decision) => MaybePromise<unknown>);
  handler: Handler | undefined;
  onLimited: ((req: Req, decision: Decision) => MaybePromise<void>) | undefined;
  skipFailedRequests: boolean;
  skipSuccessfulRequests: boolean;
  /** Undefined: a status below 400 is a success. */
  requestWasSuccessful: ((req: Req, res: never) => MaybePromise<boolean>) | undefined;
  headers: HeadersMode;
  ipv6Subnet: number | false;
  name: string | undefined;
  prefix: string;
  onStoreError: StoreErrorAction | ((error: unknown, req: Req) => MaybePromise<StoreErrorAction>);
  unknownAddress: UnknownAddressAction;
}

/**
 * Validates an adapter's options once, at construction: every mistake is a TypeError or
 * RangeError naming the option (`<label>.<option>`) and the value received. Never mutates `options`.
 */
export function parseHttpOptions<Req, Handler>(
  options: HttpRateLimitOptions<Req, Handler> | undefined,
  label: string,
  adapterOptionNames: readonly string[] = [],
): ParsedHttpOptions<Req, Handler> {
  const o = checkPlainObject(options ?? {}, label);
  checkKnownKeys(o, [...HTTP_OPTION_NAMES, ...adapterOptionNames], label);
  const fn = <T extends (...args: never[]) => unknown>(key: string): T | undefined =>
    o[key] === undefined ? undefined : checkFunction<T>(o[key], `${label}.${key}`);

  const name = o.name === undefined ? undefined : checkText(o.name, `${label}.name`, 1);
  const prefix = o.prefix === undefined ? (name === undefined ? '' : `${name}:`) : checkText(o.prefix, `${label}.prefix`, 0);

  return {
    ...limiterOf(o, label),
    keyGenerator: fn<(req: Req) => MaybePromise<string>>('keyGenerator'),
    cost: typeof o.cost === 'number' ? checkCost(o.cost, `${label}.cost`) : (fn<(req: Req) => MaybePromise<number>>('cost') ?? 1),
    skip: fn<(req: Req) => MaybePromise<boolean>>('skip'),
    allowList: allowListOf(o.allowList, `${label}.allowList`),
    statusCode: statusCodeOf(o.statusCode ?? DEFAULT_STATUS_CODE, `${label}.statusCode`),
    message: messageOf(o.message ?? DEFAULT_MESSAGE, `${label}.message`),
    handler: o.handler === undefined ? undefined : (checkFunction(o.handler, `${label}.handler`) as Handler),
    onLimited: fn<(req: Req, decision: Decision) => MaybePromise<void>>('onLimited'),
    skipFailedRequests: booleanOf(o.skipFailedRequests ?? false, `${label}.skipFailedRequests`),
    skipSuccessfulRequests: booleanOf(o.skipSuccessfulRequests ?? false, `${label}.skipSuccessfulRequests`),
    requestWasSuccessful: fn<(req: Req, res: never) => MaybePromise<boolean>>('requestWasSuccessful'),
    headers: headersModeOf(o.headers ?? DEFAULT_HEADERS_MODE, `${label}.headers`),
    ipv6Subnet: ipv6SubnetOf(o.ipv6Subnet ?? DEFAULT_IPV6_SUBNET, `${label}.ipv6Subnet`),
    name,
    prefix,
    onStoreError: onStoreErrorOf(o.onStoreError ?? 'allow', `${label}.onStoreError`),
    unknownAddress: unknownAddressOf(o.unknownAddress ?? DEFAULT_UNKNOWN_ADDRESS, `${label}.unknownAddress`),
  };
}

/** Serialises a limited-response body: strings as text, everything else as JSON. */
export function limitedBody(message: unknown, name: string): LimitedBody {
  if (typeof message === 'string') return { contentType: 'text/plain; charset=utf-8', text: message };
  let text: string | undefined;
  try {
    text = JSON.stringify(message);
  } catch (error) {
    throw typeError(ErrorCodes.INVALID_OPTION, `slidegate: ${name} must be a string or a JSON-serialisable value; ${String(error)}`);
  }
  if (text === undefined) {
    throw typeError(ErrorCodes.INVALID_OPTION, `slidegate: ${name} must be a string or a JSON-serialisable value; got ${describe(message)}`);
  }
  return { contentType: 'application/json; charset=utf-8', text };
}

function limiterOf(o: Record<string, unknown>, label: string): { limiter: RateLimiter; ownsLimiter: boolean; store: Store | undefined } {
  const inline = (['limit', 'windowSeconds', 'windowMs', 'store', 'algorithm', 'limiterOptions'] as const).filter((key) => o[key] !== undefined);
  if (o.limiter !== undefined) {
    if (!(o.limiter instanceof RateLimiter)) {
      throw typeError(ErrorCodes.INVALID_OPTION, `slidegate: ${label}.limiter must be a RateLimiter from @slidegate/core; got ${describe(o.limiter)}`);
    }
    if (inline.length > 0) {
      throw typeError(
        ErrorCodes.INVALID_OPTION,
        `slidegate: ${label} gives both limiter and ${inline.join(', ')}; configure those on the RateLimiter, or drop limiter`,
      );
    }
    return { limiter: o.limiter, ownsLimiter: false, store: undefined };
  }
  if (o.windowSeconds !== undefined && o.windowMs !== undefined) {
    throw typeError(ErrorCodes.INVALID_OPTION, `slidegate: ${label} gives both windowSeconds and windowMs; give one`);
  }
  if (o.limit === undefined || (o.windowSeconds === undefined && o.windowMs === undefined)) {
    throw typeError(
      ErrorCodes.INVALID_OPTION,
      `slidegate: ${label} needs limit and windowSeconds (e.g. { limit: 100, windowSeconds: 60 } or windowSeconds: '1m') or a limiter; got limit ${describe(o.limit)}, windowSeconds ${describe(o.windowSeconds)}`,
    );
  }
  if (typeof o.limit === 'function') {
    throw typeError(
      ErrorCodes.INVALID_OPTION,
      `slidegate: ${label}.limit must be a number; for limits per client, call updateLimit(key, limit, windowSeconds) on the middleware (or pass a limiter in policy mode with tiers)`,
    );
  }
  const limit = checkLimit(o.limit, `${label}.limit`, ErrorCodes.INVALID_OPTION);
  const windowSeconds =
    o.windowMs === undefined ? windowSecondsOf(o.windowSeconds, `${label}.windowSeconds`, 's') : windowSecondsOf(o.windowMs, `${label}.windowMs`, 'ms');
  const algorithm = o.algorithm === undefined ? undefined : checkAlgorithm(o.algorithm, `${label}.algorithm`);
  const store = o.store as Store | undefined;
  const extra = o.limiterOptions === undefined ? {} : checkPlainObject(o.limiterOptions, `${label}.limiterOptions`);
  for (const key of ['limit', 'windowSeconds', 'store', 'algorithm']) {
    if (extra[key] !== undefined) {
      throw typeError(ErrorCodes.INVALID_OPTION, `slidegate: ${label}.limiterOptions.${key} is not allowed; set ${label}.${key} instead`);
    }
  }
  // RateLimiter checks the store's shape and the other options; its messages name RateLimiter options.
  const limiter = new RateLimiter({
    ...(extra as Omit<RateLimiterOptions, 'limit' | 'windowSeconds'>),
    limit,
    windowSeconds,
    ...(store === undefined ? {} : { store }),
    ...(algorithm === undefined ? {} : { algorithm }),
  });
  return { limiter, ownsLimiter: true, store };
}

function booleanOf(value: unknown, name: string): boolean {
  if (typeof value !== 'boolean') throw typeError(ErrorCodes.INVALID_OPTION, `slidegate: ${name} must be true or false; got ${describe(value)}`);
  return value;
}

function checkText(value: unknown, name: string, minLength: number): string {
  if (typeof value !== 'string') throw typeError(ErrorCodes.INVALID_OPTION, `slidegate: ${name} must be a string; got ${describe(value)}`);
  if (value.length < minLength || Buffer.byteLength(value, 'utf8') > MAX_PREFIX_BYTES) {
    throw rangeError(ErrorCodes.INVALID_OPTION, `slidegate: ${name} must be ${minLength} to ${MAX_PREFIX_BYTES} UTF-8 bytes long; got ${describe(value)}`);
  }
  return value;
}

function allowListOf<Req>(value: unknown, name: string): ParsedHttpOptions<Req, never>['allowList'] {
  if (value === undefined) return undefined;
  if (typeof value === 'function') return value as (req: Req, key: string) => MaybePromise<boolean>;
  if (!Array.isArray(value)) throw typeError(ErrorCodes.INVALID_OPTION, `slidegate: ${name} must be an array of keys or a function; got ${describe(value)}`);
  value.forEach((key: unknown, i) => {
    if (typeof key !== 'string') throw typeError(ErrorCodes.INVALID_OPTION, `slidegate: ${name}[${i}] must be a string; got ${describe(key)}`);
  });
  return new Set(value as string[]);
}

function statusCodeOf(value: unknown, name: string): number {
  if (typeof value !== 'number') throw typeError(ErrorCodes.INVALID_OPTION, `slidegate: ${name} must be an HTTP status code; got ${describe(value)}`);
  if (!Number.isInteger(value) || value < 400 || value > 599) {
    throw rangeError(ErrorCodes.INVALID_OPTION, `slidegate: ${name} must be an integer HTTP error status from 400 to 599; got ${describe(value)}`);
  }
  return value;
}

function messageOf<Req>(value: unknown, name: string): ParsedHttpOptions<Req, never>['message'] {
  if (typeof value === 'function') return value as (req: Req, decision: Decision) => MaybePromise<unknown>;
  if (typeof value !== 'string' && (typeof value !== 'object' || value === null)) {
    throw typeError(ErrorCodes.INVALID_OPTION, `slidegate: ${name} must be a string, an object or a function; got ${describe(value)}`);
  }
  return limitedBody(value, name);
}

function headersModeOf(value: unknown, name: string): HeadersMode {
  if (value === false) return false;
  const expected = `false or one of ${HEADER_MODES.map((mode) => `'${mode}'`).join(', ')}`;
  if (typeof value !== 'string') throw typeError(ErrorCodes.INVALID_OPTION, `slidegate: ${name} must be ${expected}; got ${describe(value)}`);
  if (!(HEADER_MODES as readonly string[]).includes(value)) {
    throw rangeError(ErrorCodes.INVALID_OPTION, `slidegate: ${name} must be ${expected}; got ${describe(value)}`);
  }
  return value as HeadersMode;
}

function ipv6SubnetOf(value: unknown, name: string): number | false {
  if (value === false) return false;
  if (typeof value !== 'number') throw typeError(ErrorCodes.INVALID_OPTION, `slidegate: ${name} must be a prefix length from 1 to 128 or false; got ${describe(value)}`);
  if (!Number.isInteger(value) || value < 1 || value > 128) {
    throw rangeError(ErrorCodes.INVALID_OPTION, `slidegate: ${name} must be an integer prefix length from 1 to 128 (usually 48 to 64) or false; got ${describe(value)}`);
  }
  return value;
}

function unknownAddressOf(value: unknown, name: string): UnknownAddressAction {
  if (value === 'skip' || value === 'deny' || value === 'pool') return value;
  const make = typeof value === 'string' ? rangeError : typeError;
  throw make(ErrorCodes.INVALID_OPTION, `slidegate: ${name} must be 'skip', 'deny' or 'pool'; got ${describe(value)}`);
}

function onStoreErrorOf<Req>(value: unknown, name: string): ParsedHttpOptions<Req, never>['onStoreError'] {
  if (typeof value === 'function') return value as (error: unknown, req: Req) => MaybePromise<StoreErrorAction>;
  return storeErrorActionOf(value, name);
}

export function storeErrorActionOf(value: unknown, name: string): StoreErrorAction {
  if (value === 'allow' || value === 'deny') return value;
  const make = typeof value === 'string' ? rangeError : typeError;
  throw make(ErrorCodes.INVALID_OPTION, `slidegate: ${name} must be 'allow', 'deny' or a function returning one; got ${describe(value)}`);
}

