import { performance } from 'node:perf_hooks';
import type {
  Algorithm,
  ClientLimit,
  FactorProposal,
  LeaseRelease,
  Store,
  StoreCheckRequest,
  StoreDecision,
  StoreDeleteLimitRequest,
  StoreSetLimitRequest,
} from '../types';
import type { LimiterEvents } from './limiter-events';

/**
 * A store as it was, reporting to `events` what passes through it: every answered call
 * (`storeRoundTrip`, with its time), the units a check grants for a lease (`leaseGranted`) and the
 * unspent units given back (`leaseReturned`). It sits under the resilient wrapper, so it sees the
 * store's own answers; failures and timeouts are counted from the fault layer's `onError`.
 * Optional capabilities are forwarded only when the store has them, so nothing above it behaves
 * differently.
 */
export class ObservedStore implements Store {
  readonly inner: Store;
  readonly hasOwnClock: boolean;
  readonly inProcess?: boolean;
  readonly shared?: boolean;
  readonly checkSync?: (request: StoreCheckRequest) => StoreDecision;
  readonly heartbeat?: (instanceId: string, ttlSeconds: number) => Promise<number>;
  readonly shareFactor?: (proposal: FactorProposal) => Promise<number>;
  readonly deleteLimit?: (request: StoreDeleteLimitRequest) => Promise<void>;
  readonly #events: LimiterEvents;

  constructor(inner: Store, events: LimiterEvents) {
    this.inner = inner;
    this.#events = events;
    this.hasOwnClock = inner.hasOwnClock;
    if (inner.inProcess !== undefined) this.inProcess = inner.inProcess;
    if (inner.shared !== undefined) this.shared = inner.shared;
    if (typeof inner.checkSync === 'function') {
      const checkSync = inner.checkSync.bind(inner);
      this.checkSync = (request) => {
        const decision = checkSync(request);
        this.#leases(request, decision);
        return decision;
      };
    }
    if (typeof inner.heartbeat === 'function') {
      const heartbeat = inner.heartbeat.bind(inner);
      this.heartbeat = (instanceId, ttlSeconds) => this.#timed('heartbeat', heartbeat(instanceId, ttlSeconds));
    }
    if (typeof inner.deleteLimit === 'function') {
      const deleteLimit = inner.deleteLimit.bind(inner);
      this.deleteLimit = (request) => this.#timed('deleteLimit', deleteLimit(request));
    }
    if (typeof inner.shareFactor === 'function') {
      const shareFactor = inner.shareFactor.bind(inner);
      this.shareFactor = (proposal) => this.#timed('shareFactor', shareFactor(proposal));
    }
  }

  check(request: StoreCheckRequest): Promise<StoreDecision> {
    const started = performance.now();
    return this.inner.check(request).then((decision) => {
      this.#events.storeRoundTrip('check', (performance.now() - started) / 1000);
      this.#leases(request, decision);
      return decision;
    });
  }

  release(clientId: string, algorithm: Algorithm, release: LeaseRelease, defaults: ClientLimit): Promise<void> {
    return this.#timed('release', this.inner.release(clientId, algorithm, release, defaults)).then(() => {
      this.#events.leaseReturned(release.units);
    });
  }

  getLimit(clientId: string): Promise<ClientLimit | undefined> {
    return this.#timed('getLimit', this.inner.getLimit(clientId));
  }

  setLimit(request: StoreSetLimitRequest): Promise<void> {
    return this.#timed('setLimit', this.inner.setLimit(request));
  }

  onLimitChange(listener: (clientId: string | undefined) => void): () => void {
    return this.inner.onLimitChange(listener);
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  #leases(request: StoreCheckRequest, decision: StoreDecision): void {
    if (request.release !== undefined && request.release.units > 0) this.#events.leaseReturned(request.release.units);
    if (decision.granted > 0) this.#events.leaseGranted(decision.granted);
  }

  #timed<T>(operation: string, call: Promise<T>): Promise<T> {
    const started = performance.now();
    return call.then((value) => {
      this.#events.storeRoundTrip(operation, (performance.now() - started) / 1000);
      return value;
    });
  }
}
