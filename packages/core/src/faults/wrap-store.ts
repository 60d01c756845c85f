import type { ParsedOptions } from '../options';
import { ResilientStore } from './resilient-store';

/**
 * The store the limiter should call: a store that can fail wrapped once in a `ResilientStore`
 * (timeout, breaker, fallback); an `inProcess` store (MemoryStore) as it is, so its path keeps
 * its speed: no timer, no extra promise per call. Returns undefined when nothing is wrapped.
 */
export function wrapStore(options: ParsedOptions): ResilientStore | undefined {
  if (options.store.inProcess === true) return undefined;
  return new ResilientStore(options.store, { ...options.faults, now: options.now });
}
