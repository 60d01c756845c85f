import type { ParsedOptions } from '../options';
import { watchBreaker, type BreakerEmitter } from './limiter-events';
import { LimiterMetrics } from './limiter-metrics';
import { ObservedStore } from './observed-store';

/** A limiter's metrics, the options to build the rest of the limiter from, and the function that undoes it all. */
export interface AttachedMetrics {
  metrics: LimiterMetrics;
  /** `options` with the store observed and `faults.onError` counted (see `attachMetrics`). */
  options: ParsedOptions;
  detach: () => void;
}

/**
 * Creates the limiter's metrics and connects every module that reports, without those modules
 * knowing about metrics:
 * - a store that talks to a server, or any store when leases are on, is wrapped in an
 *   `ObservedStore` (round trips and their time, lease grants and returned units); an in-process
 *   store without leases is left as it is, so its decisions keep their speed;
 * - `faults.onError` also counts each store failure by its code (the user's handler still runs);
 * - a breaker that emits 'open', 'halfOpen' and 'close' (`CircuitBreaker` does) reports its state;
 * - a store with a numeric `size` (MemoryStore) is counted in `slidegate_clients_tracked`, by the first open
 *   limiter with metrics that uses it only, so that a sum over limiters counts each client once.
 * Returns undefined when metrics are off.
 */
export function attachMetrics(options: ParsedOptions): AttachedMetrics | undefined {
  if (options.metrics === undefined) return undefined;
  const metrics = new LimiterMetrics(options.metrics);
  const undo: (() => void)[] = [];
  const store = options.store as unknown as { size?: unknown };
  if (typeof store.size === 'number') undo.push(countStoreOnce(store as { size: number }, metrics));
  const inProcess = options.store.inProcess === true;
  const breaker = options.faults.breaker as unknown as Partial<BreakerEmitter>;
  if (!inProcess && typeof breaker.on === 'function' && typeof breaker.off === 'function') {
    undo.push(watchBreaker(breaker as BreakerEmitter, metrics));
  }
  const onError = options.faults.onError;
  const observed: ParsedOptions = {
    ...options,
    store: !inProcess || options.lease !== undefined ? new ObservedStore(options.store, metrics) : options.store,
    faults: {
      ...options.faults,
      onError: (error) => {
        metrics.storeError(typeof error.code === 'string' ? error.code : 'unknown');
        onError(error);
      },
    },
  };
  return {
    metrics,
    options: observed,
    detach: () => {
      for (const u of undo) u();
      metrics.close();
    },
  };
}

/** The limiters (their metrics) that share each in-process store, in the order they were created. */
const storeUsers = new WeakMap<object, Set<LimiterMetrics>>();

/**
 * Counts the clients of a store that several limiters may share (the adapters' limiters on one MemoryStore)
 * on the first of them that is still open, and 0 on the others: each limiter reporting the whole store
 * would make `sum(slidegate_clients_tracked)` count every client once per limiter.
 */
function countStoreOnce(store: { size: number }, metrics: LimiterMetrics): () => void {
  let users = storeUsers.get(store);
  if (users === undefined) storeUsers.set(store, (users = new Set()));
  const sharing = users;
  sharing.add(metrics);
  const untrack = metrics.trackClients(() => (sharing.values().next().value === metrics ? store.size : 0));
  return () => {
    untrack();
    sharing.delete(metrics);
  };
}
