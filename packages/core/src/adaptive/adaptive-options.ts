import { ErrorCodes, rangeError, typeError } from '../errors';
import { checkKnownKeys, checkPlainObject, describe } from '../validate';

/** A load signal: higher means more loaded (event-loop delay, p99 latency, CPU, queue depth). */
export type LoadSignal = () => number | Promise<number>;

/**
 * Where the adaptive factor applies.
 * - `'shared'`: every instance on the store proposes its own factor and all apply the smallest live
 *   proposal, so one overloaded instance lowers the limits everywhere (what protects one backend).
 *   Needs a store with `shareFactor` (MemoryStore: the limiters of one process; RedisStore: every instance).
 * - `'instance'`: each instance applies only its own factor (protects each instance by itself).
 */
export type AdaptiveScope = 'shared' | 'instance';

/** Options of `RateLimiterOptions.adaptive`: limits that shrink while the service is overloaded. */
export interface AdaptiveOptions {
  /**
   * The load signal, sampled every `intervalMs`. Over `target`, the factor falls; at or under it, it recovers.
   * @default event-loop delay p99 over the last interval, in milliseconds (perf_hooks.monitorEventLoopDelay)
   */
  signal?: LoadSignal;
  /**
   * The signal value that counts as overloaded when exceeded. Required with a custom `signal`.
   * @default 50 (milliseconds of event-loop delay p99, with the default signal)
   */
  target?: number;
  /**
   * How often the signal is sampled and the factor adjusted, in milliseconds (10..3,600,000).
   * @default 1000
   */
  intervalMs?: number;
  /**
   * Multiplier applied to the factor at each sample over target (0 < decrease < 1).
   * @default 0.8
   */
  decrease?: number;
  /**
   * Added to the factor at each sample at or under target (0 < increase <= 1).
   * @default 0.05
   */
  increase?: number;
  /**
   * The lowest factor (0 < minFactor <= 1): limits never fall below floor(L * minFactor).
   * @default 0.1
   */
  minFactor?: number;
  /**
   * `'shared'` across every instance on the store, or per `'instance'`. A store without `shareFactor`
   * is always per instance.
   * @default 'shared'
   */
  scope?: AdaptiveScope;
  /**
   * Limiters with the same group on one store share one factor.
   * @default 'default'
   */
  group?: string;
}

/** `AdaptiveOptions` validated, defaults filled. */
export interface ParsedAdaptiveOptions {
  /** `undefined`: the default event-loop delay signal. */
  signal: LoadSignal | undefined;
  target: number;
  intervalMs: number;
  decrease: number;
  increase: number;
  minFactor: number;
  scope: AdaptiveScope;
  group: string;
}

export const DEFAULT_ADAPTIVE = {
  target: 50,
  intervalMs: 1000,
  decrease: 0.8,
  increase: 0.05,
  minFactor: 0.1,
  scope: 'shared',
  group: 'default',
} as const;

const OPTION = 'RateLimiter options.adaptive';
const KNOWN = ['signal', 'target', 'intervalMs', 'decrease', 'increase', 'minFactor', 'scope', 'group'];

/** `undefined`/`false`: off. `true` or an object: on, with defaults filled. */
export function parseAdaptiveOptions(value: unknown): ParsedAdaptiveOptions | undefined {
  if (value === undefined || value === false) return undefined;
  if (value !== true && (typeof value !== 'object' || value === null || Array.isArray(value))) {
    throw typeError(ErrorCodes.INVALID_OPTION, `slidegate: ${OPTION} must be a boolean or an object; got ${describe(value)}`);
  }
  const o = value === true ? {} : checkPlainObject(value, OPTION);
  checkKnownKeys(o, KNOWN, OPTION);
  if (o.signal !== undefined && typeof o.signal !== 'function') {
    throw typeError(ErrorCodes.INVALID_OPTION, `slidegate: ${OPTION}.signal must be a function returning a number; got ${describe(o.signal)}`);
  }
  if (o.signal !== undefined && o.target === undefined) {
    throw typeError(ErrorCodes.INVALID_OPTION, `slidegate: ${OPTION}.target is required with a custom signal (the value over which the service counts as overloaded)`);
  }
  const d = DEFAULT_ADAPTIVE;
  const target = numberIn(o.target ?? d.target, 'target', 0, Number.MAX_VALUE, true);
  const intervalMs = numberIn(o.intervalMs ?? d.intervalMs, 'intervalMs', 10, 3_600_000, true);
  if (!Number.isInteger(intervalMs)) {
    throw rangeError(ErrorCodes.INVALID_OPTION, `slidegate: ${OPTION}.intervalMs must be an integer from 10 to 3600000; got ${describe(intervalMs)}`);
  }
  const decrease = numberIn(o.decrease ?? d.decrease, 'decrease', 0, 1, false);
  if (decrease >= 1) throw rangeError(ErrorCodes.INVALID_OPTION, `slidegate: ${OPTION}.decrease must be above 0 and below 1; got ${describe(decrease)}`);
  const increase = numberIn(o.increase ?? d.increase, 'increase', 0, 1, false);
  const minFactor = numberIn(o.minFactor ?? d.minFactor, 'minFactor', 0, 1, false);
  const scope = o.scope ?? d.scope;
  if (scope !== 'shared' && scope !== 'instance') {
    throw (typeof scope === 'string' ? rangeError : typeError)(
      ErrorCodes.INVALID_OPTION,
      `slidegate: ${OPTION}.scope must be 'shared' or 'instance'; got ${describe(scope)}`,
    );
  }
  const group = o.group ?? d.group;
  if (typeof group !== 'string' || group.length === 0 || group.length > 200) {
    throw (typeof group === 'string' ? rangeError : typeError)(
      ErrorCodes.INVALID_OPTION,
      `slidegate: ${OPTION}.group must be a string of 1 to 200 characters; got ${describe(group)}`,
    );
  }
  return { signal: o.signal as LoadSignal | undefined, target, intervalMs, decrease, increase, minFactor, scope, group };
}

/** A finite number in (min, max], or [min, max] when `minIncluded`. */
function numberIn(value: unknown, field: string, min: number, max: number, minIncluded: boolean): number {
  const range = `${minIncluded ? 'from' : 'above'} ${min} ${max === Number.MAX_VALUE ? 'upwards' : `to ${max}`}`;
  if (typeof value !== 'number') throw typeError(ErrorCodes.INVALID_OPTION, `slidegate: ${OPTION}.${field} must be a number ${range}; got ${describe(value)}`);
  if (!Number.isFinite(value) || value > max || value < min || (!minIncluded && value === min)) {
    throw rangeError(ErrorCodes.INVALID_OPTION, `slidegate: ${OPTION}.${field} must be a finite number ${range}; got ${describe(value)}`);
  }
  return value;
}
