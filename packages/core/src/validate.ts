import { ErrorCodes, rangeError, typeError, type ErrorCode } from './errors';
import type { Algorithm } from './types';
import { toMs } from './time';

/** The SPEC's bounds, in one place. */
export const MAX_WINDOW_SECONDS = 31_536_000;
export const MAX_CLIENT_ID_BYTES = 1024;
/**
 * The latest accepted timestamp, in whole seconds (about 142,000 years from the epoch): engines
 * compute times in ms up to e + 2W (the counter's next two windows), and those stay below 2^52 ms,
 * where a time in seconds with ms precision (a decision's `timestamp`, `retryAfter`) still maps back
 * to its exact ms, here and in Redis's Lua.
 */
export const MAX_TIMESTAMP = Math.floor(2 ** 52 / 1000) - 2 * MAX_WINDOW_SECONDS;
export const ALGORITHMS: readonly Algorithm[] = ['sliding-window', 'sliding-log', 'sliding-counter'];

/** Renders a received value for an error message: its type and a short rendering. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string') {
    const shown = value.length > 40 ? `${value.slice(0, 40)}...` : value;
    return `string ${JSON.stringify(shown)} (${Buffer.byteLength(value, 'utf8')} bytes)`;
  }
  if (typeof value === 'number') return `number ${String(value)}`;
  if (typeof value === 'bigint') return `bigint ${value}n`;
  if (typeof value === 'boolean') return `boolean ${String(value)}`;
  if (typeof value === 'symbol') return value.toString();
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : typeof value;
}

export function checkClientId(clientId: unknown, name = 'clientId', code: ErrorCode = ErrorCodes.INVALID_ARGUMENT): string {
  if (typeof clientId !== 'string') {
    throw typeError(code, `slidegate: ${name} must be a string of 1 to ${MAX_CLIENT_ID_BYTES} UTF-8 bytes; got ${describe(clientId)}`);
  }
  // A UTF-8 character is at most 3 bytes per UTF-16 unit, so short ids skip the byte count.
  if (clientId.length === 0 || (clientId.length * 3 > MAX_CLIENT_ID_BYTES && Buffer.byteLength(clientId, 'utf8') > MAX_CLIENT_ID_BYTES)) {
    throw rangeError(code, `slidegate: ${name} must be 1 to ${MAX_CLIENT_ID_BYTES} UTF-8 bytes long; got ${describe(clientId)}`);
  }
  return clientId;
}

export function checkLimit(limit: unknown, name = 'limit', code: ErrorCode = ErrorCodes.INVALID_ARGUMENT): number {
  if (typeof limit !== 'number') throw typeError(code, `slidegate: ${name} must be an integer >= 0; got ${describe(limit)}`);
  if (!Number.isSafeInteger(limit) || limit < 0) {
    throw rangeError(code, `slidegate: ${name} must be an integer from 0 to ${Number.MAX_SAFE_INTEGER}; got ${describe(limit)}`);
  }
  return limit;
}

export function checkWindowSeconds(windowSeconds: unknown, name = 'windowSeconds', code: ErrorCode = ErrorCodes.INVALID_ARGUMENT): number {
  if (typeof windowSeconds !== 'number') {
    throw typeError(code, `slidegate: ${name} must be an integer number of seconds from 1 to ${MAX_WINDOW_SECONDS}; got ${describe(windowSeconds)}`);
  }
  if (!Number.isInteger(windowSeconds) || windowSeconds < 1 || windowSeconds > MAX_WINDOW_SECONDS) {
    throw rangeError(code, `slidegate: ${name} must be an integer number of seconds from 1 to ${MAX_WINDOW_SECONDS}; got ${describe(windowSeconds)}`);
  }
  return windowSeconds;
}

/** Returns the timestamp (seconds) as whole milliseconds, floored (SPEC: `t_ms`). */
export function checkTimestamp(timestamp: unknown, name = 'timestamp', code: ErrorCode = ErrorCodes.INVALID_ARGUMENT): number {
  if (typeof timestamp !== 'number') {
    throw typeError(code, `slidegate: ${name} must be a number of seconds since the Unix epoch; got ${describe(timestamp)}`);
  }
  if (!Number.isFinite(timestamp) || timestamp < 0 || timestamp > MAX_TIMESTAMP) {
    throw rangeError(code, `slidegate: ${name} must be a finite number of seconds from 0 to ${MAX_TIMESTAMP}; got ${describe(timestamp)}`);
  }
  return toMs(timestamp);
}

export function checkCost(cost: unknown, name = 'cost'): number {
  if (typeof cost !== 'number') throw typeError(ErrorCodes.INVALID_ARGUMENT, `slidegate: ${name} must be an integer >= 1; got ${describe(cost)}`);
  if (!Number.isSafeInteger(cost) || cost < 1) {
    throw rangeError(ErrorCodes.INVALID_ARGUMENT, `slidegate: ${name} must be an integer from 1 to ${Number.MAX_SAFE_INTEGER}; got ${describe(cost)}`);
  }
  return cost;
}

/** The limiter option `bucketMs`: an integer number of ms >= 1 (it is capped at the window). */
export function checkBucketMs(bucketMs: unknown, name = 'bucketMs', code: ErrorCode = ErrorCodes.INVALID_OPTION): number {
  const message = `slidegate: ${name} must be an integer number of milliseconds from 1 to ${MAX_WINDOW_SECONDS * 1000}; got ${describe(bucketMs)}`;
  if (typeof bucketMs !== 'number') throw typeError(code, message);
  if (!Number.isInteger(bucketMs) || bucketMs < 1 || bucketMs > MAX_WINDOW_SECONDS * 1000) throw rangeError(code, message);
  return bucketMs;
}

export function checkAlgorithm(algorithm: unknown, name = 'algorithm', code: ErrorCode = ErrorCodes.INVALID_OPTION): Algorithm {
  if (typeof algorithm !== 'string') {
    throw typeError(code, `slidegate: ${name} must be one of ${ALGORITHMS.map((a) => `'${a}'`).join(', ')}; got ${describe(algorithm)}`);
  }
  if (!(ALGORITHMS as readonly string[]).includes(algorithm)) {
    throw rangeError(code, `slidegate: ${name} must be one of ${ALGORITHMS.map((a) => `'${a}'`).join(', ')}; got ${describe(algorithm)}`);
  }
  return algorithm as Algorithm;
}

export function checkPlainObject(value: unknown, name: string, code: ErrorCode = ErrorCodes.INVALID_OPTION): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw typeError(code, `slidegate: ${name} must be an object; got ${describe(value)}`);
  }
  return value as Record<string, unknown>;
}

export function checkFunction<T extends (...args: never[]) => unknown>(value: unknown, name: string, code: ErrorCode = ErrorCodes.INVALID_OPTION): T {
  if (typeof value !== 'function') throw typeError(code, `slidegate: ${name} must be a function; got ${describe(value)}`);
  return value as T;
}

/** Refuses option names the object does not know, so a typo is an error rather than a silent default. */
export function checkKnownKeys(options: Record<string, unknown>, known: readonly string[], name: string, code: ErrorCode = ErrorCodes.INVALID_OPTION): void {
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw typeError(code, `slidegate: unknown option ${name}.${key}; expected one of ${known.join(', ')}`);
    }
  }
}
