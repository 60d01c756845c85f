import type { StoreDecision } from '../types';
import { leastTrue, type Engine, type EngineCheck } from './engine';

/**
 * Two fixed windows aligned to multiples of W (in ms): the one holding the client's clock and the one
 * before it. The state changes only when something is recorded, so `index` is always
 * floor(clock / W) and a late request after a denial still sees the counts of its clock.
 */
export class CounterState {
  clock = -1;
  expiresAt = 0;
  index = 0;
  previous = 0;
  current = 0;
}

/** The two windows as seen from time `e` in ms (e >= clock), without changing the state; windows in ms throughout. */
interface CounterView {
  index: number;
  previous: number;
  current: number;
}

function viewAt(s: CounterState, e: number, windowMs: number): CounterView {
  const index = Math.floor(e / windowMs);
  if (s.clock < 0 || index > s.index + 1) return { index, previous: 0, current: 0 };
  if (index === s.index + 1) return { index, previous: s.current, current: 0 };
  return { index, previous: s.previous, current: s.current };
}

/** The estimate at time t (ms) >= the view's window, with no new traffic; the Lua script uses the same operation order. */
function estimateAt(v: CounterView, t: number, windowMs: number): number {
  const index = Math.floor(t / windowMs);
  const intoWindow = t - index * windowMs;
  if (index === v.index) return (v.previous * (windowMs - intoWindow)) / windowMs + v.current;
  if (index === v.index + 1) return (v.current * (windowMs - intoWindow)) / windowMs;
  return 0;
}

/** The least d >= 1 (ms) at which floor(estimate(e + d)) <= target, with no new traffic. */
function delayUntilAtMost(v: CounterView, e: number, target: number, windowMs: number): number {
  const horizon = (v.index + 2) * windowMs - e; // both windows have passed: the estimate is 0
  return leastTrue(1, Math.max(1, horizon), (d) => Math.floor(estimateAt(v, e + d, windowMs)) <= target);
}

export const slidingCounterEngine: Engine<CounterState> = {
  create: () => new CounterState(),
  clockOf: (s) => s.clock,
  check(s: CounterState, r: EngineCheck): StoreDecision {
    const { cost, limit, windowSeconds } = r;
    const windowMs = windowSeconds * 1000;
    const e = r.timestamp > s.clock ? r.timestamp : s.clock;
    const v = viewAt(s, e, windowMs);
    const used = Math.floor(estimateAt(v, e, windowMs));
    const allowed = used + cost <= limit;
    let granted = 0;
    if (allowed) {
      granted = Math.min(r.extra, limit - used - cost);
      v.current += cost + granted;
      s.index = v.index;
      s.previous = v.previous;
      s.current = v.current;
      s.clock = e;
    }
    const usedAfter = allowed ? used + cost + granted : used;
    return {
      allowed,
      limit,
      windowSeconds,
      remaining: Math.max(0, limit - usedAfter),
      retryAfter: allowed ? 0 : cost > limit ? Infinity : delayUntilAtMost(v, e, limit - cost, windowMs) / 1000,
      resetAfter: usedAfter > 0 ? delayUntilAtMost(v, e, usedAfter - 1, windowMs) / 1000 : 0,
      timestamp: e / 1000,
      source: 'store',
      granted,
    };
  },
  release(s, at, units, windowSeconds) {
    if (s.clock < 0) return;
    const index = Math.floor(at / (windowSeconds * 1000));
    if (index === s.index) s.current = Math.max(0, s.current - units);
    else if (index === s.index - 1) s.previous = Math.max(0, s.previous - units);
  },
  changeWindow(s, oldSeconds, newSeconds) {
    if (s.clock < 0) return;
    const oldWindowMs = oldSeconds * 1000;
    const newWindowMs = newSeconds * 1000;
    // The old alignment means nothing under the new window: the estimate at the clock becomes the
    // new current window's count, rounded up so that a change never admits more.
    const carried = Math.ceil(estimateAt(viewAt(s, s.clock, oldWindowMs), s.clock, oldWindowMs));
    s.index = Math.floor(s.clock / newWindowMs);
    s.previous = 0;
    s.current = carried;
  },
};
