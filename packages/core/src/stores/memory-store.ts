import { LRUCache } from 'lru-cache';
import { slidingCounterEngine } from '../algorithms/sliding-counter';
import { slidingLogEngine, slidingWindowEngine } from '../algorithms/count-deque';
import type { Engine } from '../algorithms/engine';
import { FactorBoard } from '../adaptive/factor-board';
import { ErrorCodes } from '../errors';
import { checkFunction, checkKnownKeys, checkPlainObject, describe } from '../validate';
import { MemoryPolicies } from '../policies/memory-policies';
import { isPolicyDefaults } from '../policies/policy-validation';
import type { ClientPolicyConfig, PolicyStore, StoreSettleRequest, StoreSetPoliciesRequest, TierTable } from '../policies/policy-types';
import { rangeError, typeError } from '../errors';
import { bucketWidth, LATE_ARRIVAL_GRACE_MS, toMs } from '../time';
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

/** Options of `MemoryStore`. */
export interface MemoryStoreOptions {
  /**
   * The most clients tracked at once, per algorithm. Past it the least recently used client is
   * forgotten: its history is lost and its next request starts a fresh window, which can admit
   * up to one extra limit's worth for that client. Keep it well above your distinct clients per window.
   * @default 1_000_000
   */
  maxClients?: number;
  /**
   * The store's own clock in seconds, used only to expire idle clients (never to decide).
   * @default () => Date.now() / 1000
   */
  now?: () => number;
  /**
   * How often expired clients are swept, in milliseconds (0 disables the sweep; expired clients
   * are then dropped when next touched or evicted).
   * @default 5000
   */
  sweepIntervalMs?: number;
}

const DEFAULT_MAX_CLIENTS = 1_000_000;
const DEFAULT_SWEEP_INTERVAL_MS = 5000;
/** Entries examined per sweep, so a sweep never stalls the event loop. */
export const SWEEP_BUDGET = 10_000;

interface Expiring {
  expiresAt: number;
}

const ENGINES: Record<Algorithm, Engine<Expiring>> = {
  'sliding-window': slidingWindowEngine,
  'sliding-log': slidingLogEngine,
  'sliding-counter': slidingCounterEngine,
};

/**
 * The embedded default: every client's window in this process. Each check runs synchronously
 * inside, so concurrent decisions for one client are atomic without locks.
 */
export class MemoryStore implements Store, PolicyStore {
  readonly hasOwnClock = false;
  /** In-process: the limiter calls it directly, with no timeout or breaker (see `Store.inProcess`). */
  readonly inProcess = true;
  readonly #maxClients: number;
  readonly #now: () => number;
  readonly #clients = new Map<Algorithm, LRUCache<string, Expiring>>();
  readonly #limits = new Map<string, ClientLimit>();
  readonly #listeners = new Set<(clientId: string | undefined) => void>();
  readonly #sweepTimer: NodeJS.Timeout | undefined;
  /** Where each algorithm's sweep stopped, so the next one resumes there. */
  readonly #sweepCursors = new Map<Algorithm, Iterator<string>>();
  #factors: FactorBoard | undefined;
  /** Policy mode (several policies per client, tiers, settle): created on first use. */
  #policies: MemoryPolicies | undefined;

  constructor(options: MemoryStoreOptions = {}) {
    const o = checkPlainObject(options, 'MemoryStore options');
    checkKnownKeys(o, ['maxClients', 'now', 'sweepIntervalMs'], 'MemoryStore options');
    this.#maxClients = positiveInteger(o.maxClients ?? DEFAULT_MAX_CLIENTS, 'MemoryStore options.maxClients');
    this.#now = o.now === undefined ? () => Date.now() / 1000 : checkFunction<() => number>(o.now, 'MemoryStore options.now');
    const sweepMs = o.sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS;
    if (sweepMs !== 0) positiveInteger(sweepMs, 'MemoryStore options.sweepIntervalMs');
    if (sweepMs !== 0) {
      this.#sweepTimer = setInterval(() => this.sweep(), sweepMs as number);
      this.#sweepTimer.unref();
    }
  }

  check(request: StoreCheckRequest): Promise<StoreDecision> {
    return Promise.resolve(this.checkSync(request));
  }

  /** `check` without the promise, for callers that observe the decision (`Store.checkSync`). */
  checkSync(request: StoreCheckRequest): StoreDecision {
    if (isPolicyDefaults(request.defaults)) return this.#policyMode().check(request, request.defaults);
    const engine = ENGINES[request.algorithm];
    const clients = this.#clientsOf(request.algorithm);
    const limits = this.#limits.size === 0 ? request.defaults : (this.#limits.get(request.clientId) ?? request.defaults);
    const now = this.#now();
    const g = bucketWidth(limits.windowSeconds, request.bucketMs);
    let state = clients.get(request.clientId);
    if (state === undefined || state.expiresAt <= now) {
      state = engine.create();
      state.expiresAt = expiryAfter(now, limits.windowSeconds, g);
      clients.set(request.clientId, state);
    }
    if (request.release !== undefined) engine.release(state, request.release.at, request.release.units, limits.windowSeconds, request.release.clock);
    const decision = engine.check(state, {
      timestamp: request.timestamp ?? toMs(now),
      cost: request.cost,
      limit: request.limitFactor === 1 ? limits.limit : Math.floor(limits.limit * request.limitFactor),
      windowSeconds: limits.windowSeconds,
      g,
      extra: request.extra,
    });
    if (decision.allowed) state.expiresAt = expiryAfter(now, limits.windowSeconds, g);
    return decision;
  }

  release(clientId: string, algorithm: Algorithm, release: LeaseRelease, defaults: ClientLimit): Promise<void> {
    if (isPolicyDefaults(defaults)) {
      this.#policyMode().release(clientId, release, defaults);
      return Promise.resolve();
    }
    const state = this.#clientsOf(algorithm).get(clientId);
    if (state !== undefined) {
      const limits = this.#limits.get(clientId) ?? defaults;
      ENGINES[algorithm].release(state, release.at, release.units, limits.windowSeconds, release.clock);
    }
    return Promise.resolve();
  }

  /** Forgets the client's counts and clock under every algorithm and in policy mode (`Store.reset`); its own limit stays. */
  reset(clientId: string): Promise<void> {
    for (const clients of this.#clients.values()) clients.delete(clientId);
    this.#policies?.reset(clientId);
    return Promise.resolve();
  }

  /** Forgets every client's counts and clocks; own limits stay. */
  resetAll(): Promise<void> {
    for (const clients of this.#clients.values()) clients.clear();
    this.#policies?.resetAll();
    return Promise.resolve();
  }

  getLimit(clientId: string): Promise<ClientLimit | undefined> {
    const limit = this.#limits.get(clientId);
    return Promise.resolve(limit === undefined ? undefined : { ...limit });
  }

  setLimit(request: StoreSetLimitRequest): Promise<void> {
    // Policy mode: a single limit is a list of one.
    if (isPolicyDefaults(request.defaults)) return this.setPolicies({ clientId: request.clientId, config: { policies: [{ ...request.limit }] } });
    const next = { limit: request.limit.limit, windowSeconds: request.limit.windowSeconds };
    this.#changeWindow(request, next.windowSeconds);
    this.#limits.set(request.clientId, next);
    for (const listener of this.#listeners) listener(request.clientId);
    return Promise.resolve();
  }

  /** Removes the client's own limit (policy mode: its config); its counts move back to the default window. */
  deleteLimit(request: StoreDeleteLimitRequest): Promise<void> {
    if (isPolicyDefaults(request.defaults)) return this.setPolicies({ clientId: request.clientId, config: {} });
    this.#changeWindow(request, request.defaults.windowSeconds);
    if (this.#limits.delete(request.clientId)) {
      for (const listener of this.#listeners) listener(request.clientId);
    }
    return Promise.resolve();
  }

  /** The window-change rule: the client's counts move from its current window to `windowSeconds`. */
  #changeWindow(request: StoreDeleteLimitRequest, windowSeconds: number): void {
    const old = this.#limits.get(request.clientId) ?? request.defaults;
    const state = this.#clientsOf(request.algorithm).get(request.clientId);
    if (state !== undefined && old.windowSeconds !== windowSeconds) {
      const g = bucketWidth(windowSeconds, request.bucketMs);
      ENGINES[request.algorithm].changeWindow(state, old.windowSeconds, windowSeconds, g);
      state.expiresAt = expiryAfter(this.#now(), windowSeconds, g);
    }
  }

  /** Policy mode: stores the client's whole policy config and tells the listeners. */
  setPolicies(request: StoreSetPoliciesRequest): Promise<void> {
    this.#policyMode().setPolicies(request);
    for (const listener of this.#listeners) listener(request.clientId);
    return Promise.resolve();
  }

  getPolicies(clientId: string): Promise<ClientPolicyConfig | undefined> {
    return Promise.resolve(this.#policies?.getPolicies(clientId));
  }

  /** Policy mode: refunds (units < 0) or charges (units > 0) at time `at` (ms), in every policy whose window still holds it. */
  settle(request: StoreSettleRequest): Promise<void> {
    this.#policyMode().settle(request);
    return Promise.resolve();
  }

  setTier(name: string, policies: ClientLimit[] | undefined): Promise<void> {
    this.#policyMode().setTier(name, policies);
    return Promise.resolve();
  }

  getTiers(): Promise<TierTable> {
    return Promise.resolve(this.#policies?.getTiers() ?? {});
  }

  onTierChange(listener: () => void): () => void {
    return this.#policyMode().onTierChange(listener);
  }

  /** Load-adaptive limits: the smallest live factor proposal of the limiters on this store (`Store.shareFactor`). */
  shareFactor(proposal: FactorProposal): Promise<number> {
    this.#factors ??= new FactorBoard(this.#now);
    return Promise.resolve(this.#factors.propose(proposal));
  }

  onLimitChange(listener: (clientId: string | undefined) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Clients currently tracked, over all algorithms (expired ones not yet swept included). */
  get size(): number {
    let size = 0;
    for (const clients of this.#clients.values()) size += clients.size;
    return size + (this.#policies?.size ?? 0);
  }

  /**
   * Drops expired clients, least recently used first, examining at most SWEEP_BUDGET per algorithm
   * per call. Each call resumes where the last one stopped, so expired clients behind many live
   * ones (long windows, a late expiry) are reached too; a pass that ends starts over.
   */
  sweep(): void {
    const now = this.#now();
    for (const [algorithm, clients] of this.#clients) {
      const expired: string[] = [];
      let cursor = this.#sweepCursors.get(algorithm);
      let startedPass = false;
      for (let examined = 0; examined < SWEEP_BUDGET; ) {
        if (cursor === undefined) {
          if (startedPass) break; // one whole pass per call at most
          cursor = clients.rkeys();
          startedPass = true;
        }
        // A cursor kept across calls may skip or revisit clients touched in between (LRU order
        // changes); the budget still bounds the call, and the next pass covers what was skipped.
        const next = cursor.next();
        if (next.done === true) {
          cursor = undefined;
          continue;
        }
        examined++;
        const state = clients.peek(next.value);
        if (state !== undefined && state.expiresAt <= now) expired.push(next.value);
      }
      if (cursor === undefined) this.#sweepCursors.delete(algorithm);
      else this.#sweepCursors.set(algorithm, cursor);
      for (const clientId of expired) clients.delete(clientId);
    }
    this.#policies?.sweep(SWEEP_BUDGET);
  }

  close(): Promise<void> {
    if (this.#sweepTimer !== undefined) clearInterval(this.#sweepTimer);
    this.#sweepCursors.clear();
    this.#listeners.clear();
    this.#policies?.close();
    return Promise.resolve();
  }

  #policyMode(): MemoryPolicies {
    return (this.#policies ??= new MemoryPolicies(this.#maxClients, this.#now));
  }

  #clientsOf(algorithm: Algorithm): LRUCache<string, Expiring> {
    let clients = this.#clients.get(algorithm);
    if (clients === undefined) {
      // maxSize with a size of 1 caps the count without preallocating maxClients slots up front.
      clients = new LRUCache<string, Expiring>({ maxSize: this.#maxClients, sizeCalculation: () => 1 });
      this.#clients.set(algorithm, clients);
    }
    return clients;
  }
}

function positiveInteger(value: unknown, name: string): number {
  if (typeof value !== 'number') throw typeError(ErrorCodes.INVALID_OPTION, `slidegate: ${name} must be an integer >= 1; got ${describe(value)}`);
  if (!Number.isSafeInteger(value) || value < 1) {
    throw rangeError(ErrorCodes.INVALID_OPTION, `slidegate: ${name} must be an integer >= 1; got ${describe(value)}`);
  }
  return value;
}

/**
 * When a client written at `now` may be forgotten: W_ms + g + LATE_ARRIVAL_GRACE_MS later (SPEC,
 * expiry: at least W_ms + g; the grace keeps the counts for requests that reach the store late),
 * rounded up to a whole second so the field stays a small integer instead of a boxed double on
 * every client.
 */
export function expiryAfter(now: number, windowSeconds: number, g: number): number {
  return Math.ceil(now + (g + LATE_ARRIVAL_GRACE_MS) / 1000) + windowSeconds;
}
