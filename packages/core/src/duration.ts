import ms from 'ms';
import { ErrorCodes, rangeError, typeError } from './errors';
import { MAX_WINDOW_SECONDS, describe } from './validate';

/**
 * A window as users write it, in whole seconds: a number in `unit` ('s': seconds, 'ms': milliseconds,
 * as express-rate-limit's and @fastify/rate-limit's `windowMs`/`timeWindow`) or a duration string the
 * `ms` package reads ('15m', '1 minute', '2 hours'). Windows are counted in whole seconds; milliseconds
 * that are not whole seconds are rounded up (never a longer burst than asked for) with a one-time
 * warning. Throws a coded TypeError or RangeError that names `name` and the value.
 */
export function windowSecondsOf(value: unknown, name: string, unit: 's' | 'ms'): number {
  const expected = unit === 's' ? 'a whole number of seconds' : 'a number of milliseconds';
  let millis: number;
  if (typeof value === 'string') {
    const parsed = ms(value);
    if (parsed === undefined || !Number.isFinite(parsed)) {
      throw rangeError(ErrorCodes.INVALID_OPTION, `slidegate: ${name} must be ${expected} or a duration such as '15m' or '1 minute'; got ${describe(value)}`);
    }
    millis = parsed;
  } else if (typeof value === 'number') {
    millis = unit === 's' ? value * 1000 : value;
    if (unit === 's' && !Number.isInteger(value)) millis = NaN;
  } else {
    throw typeError(ErrorCodes.INVALID_OPTION, `slidegate: ${name} must be ${expected} or a duration such as '15m'; got ${describe(value)}`);
  }
  if (!(millis > 0) || millis > MAX_WINDOW_SECONDS * 1000) {
    throw rangeError(ErrorCodes.INVALID_OPTION, `slidegate: ${name} must be ${expected} from 1 s to ${MAX_WINDOW_SECONDS} s (365 days); got ${describe(value)}`);
  }
  const seconds = Math.ceil(millis / 1000);
  if (seconds * 1000 !== millis) warnRounded(name, value, seconds);
  return seconds;
}

const warned = new Set<string>();

function warnRounded(name: string, value: unknown, seconds: number): void {
  const text = `${name}=${String(value)}`;
  if (warned.has(text)) return;
  warned.add(text);
  process.emitWarning(
    `slidegate: ${name} ${describe(value)} counts as ${seconds} s: windows are whole seconds, and rounding up keeps ` +
      `at most the limit in any window of the length asked for. Use whole seconds to have it exactly.`,
    { code: 'SLIDEGATE_WINDOW_ROUNDED' },
  );
}

/** A wait in words, as the peers write it in their limited-response messages: '1 minute', '30 seconds'. */
export function durationInWords(millis: number): string {
  return ms(millis, { long: true });
}
