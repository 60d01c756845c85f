import { LRUCache } from 'lru-cache';
import { ErrorCodes, StoreError, StoreTimeoutError } from '../errors';
import { MemoryStore } from '../stores/memory-store';
import { toMs } from '../time';
import type {
  Algorithm,
  ClientLimit,
  FailureMode,
  LeaseRelease,
  Store,
  StoreCheckRequest,
  StoreDecision,
  StoreDeleteLimitRequest,
  StoreSetLimitRequest,
} from '../types';
import type { Breaker, BreakerPermit } from './circuit-breaker';
import { classifyStoreError } from './store-errors';
import { DeadlineQueue } from './deadline-queue';
import { DEFAULT_HEARTBEAT_INTERVAL_MS, joinHeartbeat, type HeartbeatMembership } from './process-heartbeat';

/** Options of `ResilientStore` (filled in by `parseOptions`). */
export interface ResilientStoreOptions {
  failureMode: FailureMode;
  /** Per-call deadline in milliseconds. */
  timeoutMs: number;
  breaker: Breaker;
  /** The least number of instances sharing the store; the live count from heartbeats may raise it. */
  instances: number;
  /** Called with every coded store failure. */
  onError: (error: StoreError) => void;
  /** Called when a call succeeds after a store-wide failure (the default `onError` says so once). */
  onRecovered?: (() => void) | undefined;
  /** Seconds since the epoch, for fallback decisions of checks without a timestamp. */
  now: () => number;
  /** Clients whose configured limit is remembered for the fallback. @default 100_000 */
  maxClients?: number;
  /** Heartbeat period in ms (the process counts as live for 3 periods). @default 5000 */
  heartbeatIntervalMs?: number;
}

const DEFAULT_MAX_CLIENTS = 100_000;
/** Deadline of limit reads and writes (at least `timeoutMs`). */
const CONFIG_TIMEOUT_MS = 1000;

/** What one guarded call settled with: a value, or a coded error. */
type Outcome<T> = { ok: true; value: T } | { ok: false; error: StoreError; storeFailure: boolean };

/**
 * Wraps a store that can fail (Redis) so that every call has a deadline and goes through a circuit
 * breaker, and a failed or skipped `check` is decided in fallback by `failureMode`. Stores that
 * declare `inProcess` are never wrapped: they cannot time out, so they pay for none of this.
 *
 * Never retries a check: a call that timed out may still run on the store later, and running it
 * again could count one request twice. Fallback counts stay in this process and are never written
 * to the store: the store may already hold some of them (calls that ran late), and replaying them
 * on recovery would add a burst of writes at the moment the store is weakest.
 */
export class ResilientStore implements Store {
  readonly inner: Store;
  readonly hasOwnClock: boolean;
  readonly shared: boolean;
  readonly #options: ResilientStoreOptions;
  readonly #breaker: Breaker;
  /** Clients' configured limits as last seen, so a fallback never loses a configured limit. */
  readonly #limits: LRUCache<string, ClientLimit>;
  #local: MemoryStore | undefined;
  readonly #listeners = new Set<(clientId: string | undefined) => void>();
  /** Deadlines of checks and releases. */
  readonly #callDeadlines: DeadlineQueue;
  /** Deadlines of limit reads and writes, which may take longer (at least CONFIG_TIMEOUT_MS). */
  readonly #configDeadlines: DeadlineQueue;
  readonly #unsubscribe: () => void;
  /** This process's heartbeat on the store, shared with the other limiters of the store ('local' mode). */
  readonly #heartbeat: HeartbeatMembership | undefined;
  /** True after a fallback decision, until a store call succeeds again. */
  #degraded = false;
  /** False until the store first answers: see `#tell`. */
  #answered = false;
  #lateStoreDecisions = 0;
  #lateAllowedUnits = 0;
  #closed = false;

  constructor(inner: Store, options: ResilientStoreOptions) {
    this.inner = inner;
    this.hasOwnClock = inner.hasOwnClock;
    this.shared = inner.shared === true;
    this.#options = options;
    this.#breaker = options.breaker;
    this.#limits = new LRUCache({ max: options.maxClients ?? DEFAULT_MAX_CLIENTS });
    this.#callDeadlines = new DeadlineQueue(options.timeoutMs);
    this.#configDeadlines = new DeadlineQueue(Math.max(options.timeoutMs, CONFIG_TIMEOUT_MS));
    this.#unsubscribe = inner.onLimitChange((clientId) => this.#limitChanged(clientId));
    if (options.failureMode === 'local' && typeof inner.heartbeat === 'function') {
      this.#heartbeat = joinHeartbeat(inner, { intervalMs: options.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS, timeoutMs: options.timeoutMs });
    }
  }

  /** Instances counted for the local share right now: max(configured, live processes last counted). */
  get instances(): number {
    return Math.max(this.#options.instances, this.#heartbeat?.live ?? 0);
  }

  /**
   * Checks that timed out and later got an answer from the store anyway, and the units those
   * recorded there (their callers were answered in fallback). Exposed so tests and metrics can
   * account for every unit the store holds.
   */
  get late(): { decisions: number; allowedUnits: number } {
    return { decisions: this.#lateStoreDecisions, allowedUnits: this.#lateAllowedUnits };
  }

  check(request: StoreCheckRequest): Promise<StoreDecision> {
    const permit = this.#acquire();
    if (permit === 'denied') return this.#fallback(request, true);
    return this.#guard(
      permit,
      'check',
      this.#callCheck(request),
      (outcome) => {
        if (!outcome.ok) return this.#fallback(request, outcome.storeFailure);
        const decision = outcome.value;
        if (request.limitFactor === 1) this.#remember(request.clientId, decision, request.defaults);
        return decision;
      },
      (late) => this.#countLate(late, request.cost),
    );
  }

  release(clientId: string, algorithm: Algorithm, release: LeaseRelease, defaults: ClientLimit): Promise<void> {
    // A release that fails leaves unspent units counted until they expire: safe (under-admission).
    // It is never retried: a second release could remove units of admitted requests.
    const permit = this.#acquire();
    if (permit === 'denied') return Promise.resolve();
    return this.#guard(permit, 'release', call(() => this.inner.release(clientId, algorithm, release, defaults)), () => undefined);
  }

  async getLimit(clientId: string): Promise<ClientLimit | undefined> {
    const value = await this.#strict('getLimit', () => this.inner.getLimit(clientId));
    if (value === undefined) this.#limits.delete(clientId);
    else this.#limits.set(clientId, { limit: value.limit, windowSeconds: value.windowSeconds });
    return value;
  }

  async setLimit(request: StoreSetLimitRequest): Promise<void> {
    // Fails loudly: a limit that was not stored must not look stored. The cache learns it only
    // once the store has it, so fallback and store never disagree about what is configured.
    await this.#strict('setLimit', () => this.inner.setLimit(request));
    this.#limits.set(request.clientId, { limit: request.limit.limit, windowSeconds: request.limit.windowSeconds });
  }

  /** Fails loudly, as `setLimit` does; the fallback forgets the limit once the store has. */
  async deleteLimit(request: StoreDeleteLimitRequest): Promise<void> {
    const inner = this.inner;
    await this.#strict('deleteLimit', () => (inner.deleteLimit === undefined ? Promise.resolve() : inner.deleteLimit(request)));
    this.#limits.delete(request.clientId);
  }

  onLimitChange(listener: (clientId: string | undefined) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Stops the heartbeat (leaving the live set) and drops fallback state; the inner store is not closed. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#unsubscribe();
    this.#listeners.clear();
    if (this.#local !== undefined) await this.#local.close();
    // The last limiter of the store in this process takes the process out of the live set.
    await this.#heartbeat?.leave();
  }

  #callCheck(request: StoreCheckRequest): Promise<StoreDecision> {
    return call(() => this.inner.check(request));
  }

  /**
   * Races `promise` against the deadline, reports the outcome to the breaker, and settles with what
   * `settle` makes of the outcome (one promise per call: the mapping is not a further `then`). The
   * promise is always observed, so a call that rejects after its deadline is no unhandled
   * rejection; `onLate` sees a value that arrived after the deadline.
   */
  #guard<T, R>(
    permit: BreakerPermit,
    operation: string,
    promise: Promise<T>,
    settle: (outcome: Outcome<T>) => R | PromiseLike<R>,
    onLate?: (value: T) => void,
    deadlines = this.#callDeadlines,
  ): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const finish = (outcome: Outcome<T>): void => {
        try {
          resolve(settle(outcome));
        } catch (error) {
          reject(error instanceof Error ? error : new Error(String(error)));
        }
      };
      const deadline = deadlines.add(() => {
        const error = new StoreTimeoutError(deadlines.timeoutMs, operation);
        this.#tell(permit, error);
        this.#report(error);
        finish({ ok: false, error, storeFailure: true });
      });
      promise.then(
        (value) => {
          if (!deadlines.settle(deadline)) {
            onLate?.(value);
            return;
          }
          this.#tell(permit, undefined);
          if (this.#degraded) this.#recovered();
          finish({ ok: true, value });
        },
        (cause: unknown) => {
          if (!deadlines.settle(deadline)) return;
          const { error, storeFailure } = classifyStoreError(cause, operation);
          this.#tell(permit, storeFailure ? error : undefined);
          this.#report(error);
          finish({ ok: false, error, storeFailure });
        },
      );
    });
  }

  /** A guarded call whose failure is the caller's to see (limit reads and writes). */
  async #strict<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    const permit = this.#acquire();
    if (permit === 'denied') {
      throw new StoreError(`slidegate: store ${operation} not attempted: the circuit breaker is open after repeated store failures`, {
        code: ErrorCodes.STORE_UNAVAILABLE,
      });
    }
    // Limit reads and writes are not decisions: no 250 ms budget, and a write (which fsyncs with
    // appendfsync always) may take longer than a check. They still never hang.
    return this.#guard(
      permit,
      operation,
      call(fn),
      (outcome) => {
        if (!outcome.ok) throw outcome.error;
        return outcome.value;
      },
      undefined,
      this.#configDeadlines,
    );
  }

  /** The breaker's permit; a plug-in breaker that throws is treated as closed rather than crash a decision. */
  #acquire(): BreakerPermit {
    try {
      return this.#breaker.acquire();
    } catch (error) {
      this.#report(classifyStoreError(error, 'breaker.acquire').error);
      return 'call';
    }
  }

  /** Reports a call's outcome (`error` undefined: success) to the breaker, which must not throw into a timer. */
  #tell(permit: BreakerPermit, error: StoreError | undefined): void {
    try {
      if (error === undefined) {
        this.#answered = true;
        this.#breaker.success(permit);
      } else if (this.#answered || error.code !== ErrorCodes.STORE_CONNECTION || permit === 'probe') {
        this.#breaker.failure(permit, error);
      } else {
        // Never connected yet (the client is still connecting, or the server is not up): the call
        // failed at once without touching the network, so it stays neutral rather than open the
        // breaker, and decisions reach the store the moment the first connection is ready.
        this.#breaker.success(permit);
      }
    } catch (thrown) {
      this.#report(classifyStoreError(thrown, 'breaker report').error);
    }
  }

  /** A decision without the store; `storeFailure` false when only this client's data is bad (WRONGTYPE). */
  #fallback(request: StoreCheckRequest, storeFailure: boolean): Promise<StoreDecision> {
    // Only a store-wide failure makes the next success a recovery (which has everyone re-read configs).
    if (storeFailure) this.#degraded = true;
    const configured = this.#limits.get(request.clientId) ?? request.defaults;
    const { limit, windowSeconds } = configured;
    const timestamp = request.timestamp ?? toMs(this.#options.now());
    switch (this.#options.failureMode) {
      case 'open':
        return Promise.resolve(fixed(true, limit, windowSeconds, timestamp, request.cost));
      case 'closed':
        return Promise.resolve(fixed(false, limit, windowSeconds, timestamp, request.cost));
      default: {
        const local = (this.#local ??= new MemoryStore({ maxClients: this.#options.maxClients ?? DEFAULT_MAX_CLIENTS, now: this.#options.now }));
        return local
          .check({
            clientId: request.clientId,
            timestamp,
            cost: request.cost,
            defaults: { limit: Math.ceil(limit / this.instances), windowSeconds },
            algorithm: request.algorithm,
            bucketMs: request.bucketMs,
            // No lease is granted or released while the store is unreachable.
            extra: 0,
            limitFactor: request.limitFactor,
          })
          .then((decision) => ({ ...decision, source: 'fallback', granted: 0 }));
      }
    }
  }

  #remember(clientId: string, decision: StoreDecision, defaults: ClientLimit): void {
    if (decision.limit === defaults.limit && decision.windowSeconds === defaults.windowSeconds) {
      if (this.#limits.size !== 0) this.#limits.delete(clientId);
    } else {
      const known = this.#limits.get(clientId);
      if (known === undefined || known.limit !== decision.limit || known.windowSeconds !== decision.windowSeconds) {
        this.#limits.set(clientId, { limit: decision.limit, windowSeconds: decision.windowSeconds });
      }
    }
  }

  #limitChanged(clientId: string | undefined): void {
    if (clientId !== undefined) {
      // Learn the new limit now, so an outage that starts before the client's next decision keeps it.
      this.getLimit(clientId).catch(() => this.#limits.delete(clientId));
    }
    for (const listener of this.#listeners) listener(clientId);
  }

  #recovered(): void {
    this.#degraded = false;
    try {
      this.#options.onRecovered?.();
    } catch {
      // Reporting must never break a decision.
    }
    // Limits may have changed while we could not hear about it: everyone re-reads.
    for (const listener of this.#listeners) listener(undefined);
  }

  #countLate(decision: StoreDecision, cost: number): void {
    this.#lateStoreDecisions++;
    if (decision.allowed) this.#lateAllowedUnits += cost + decision.granted;
  }

  #report(error: StoreError): void {
    try {
      this.#options.onError(error);
    } catch {
      // A throwing onError must not turn a fallback decision into a crash.
    }
  }
}

/** Calls `fn`, turning a synchronous throw into a rejection. */
function call<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return fn();
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
}

/** An `'open'` or `'closed'` fallback decision. */
function fixed(allowed: boolean, limit: number, windowSeconds: number, timestamp: number, cost: number): StoreDecision {
  return {
    allowed,
    limit,
    windowSeconds,
    remaining: allowed ? Math.max(0, limit - cost) : 0,
    // Closed: come back after about one breaker reset; the store may answer by then.
    retryAfter: allowed ? 0 : 1,
    resetAfter: 0,
    timestamp: timestamp / 1000,
    source: 'fallback',
    granted: 0,
  };
}
