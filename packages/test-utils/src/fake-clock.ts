/** A clock that moves only when told to, from {@link fakeClock}. */
export interface FakeClock {
  /** Current time in seconds (may be fractional). Pass it as a store's or limiter's `now`. */
  now(): number;
  /** Moves the clock forward (or back, with a negative value) by `seconds`. */
  advance(seconds: number): void;
  /** Sets the clock to `seconds`. */
  set(seconds: number): void;
}

/**
 * A manual clock in seconds, so window arithmetic is tested without sleeping.
 * `now` is a bound function: `{ now: clock.now }` works.
 */
export function fakeClock(startSeconds: number): FakeClock {
  let current = checkFinite('startSeconds', startSeconds);
  return {
    now: () => current,
    advance: (seconds: number) => {
      current += checkFinite('seconds', seconds);
    },
    set: (seconds: number) => {
      current = checkFinite('seconds', seconds);
    },
  };
}

function checkFinite(name: string, value: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new TypeError(`fakeClock: ${name} must be a finite number, received ${String(value)}`);
  }
  return value;
}
