import { ClosedError } from './errors';
import { toMs } from './time';
import { defaultNow, parseOptions, type ParsedOptions } from './options';
import type { ResilientStore } from './faults/resilient-store';
import { wrapStore } from './faults/wrap-store';
import { LeaseManager } from './leases/lease-manager';
import { DenialCache } from './leases/denial-cache';
import { AdaptiveLimit } from './adaptive/adaptive-limit';
import { attachMetrics } from './metrics/attach-metrics';
import type { LimiterMetrics } from './metrics/limiter-metrics';
import type { CheckOptions, ClientLimit, Decision, RateLimiterOptions, Store } from './types';
import { checkClientId, checkCost, checkKnownKeys, checkLimit, checkTimestamp, checkWindowSeconds, checkPlainObject, describe } from './validate';
import { ErrorCodes, rangeError, typeError } from './errors';
import { asPolicyDecision, checkActualCost, checkReservation, PolicyMode, type ClientPolicies } from './policies/policy-mode';
import { shadowDecision, type PolicyDecision, type PolicyRateLimiterOptions, type PolicyStore, type Reservation, type ReserveOptions, type TierTable } from './policies/policy-types';

/** More units than any limit (limits are safe integers): a check of this many is denied and records nothing. */
const PEEK_COST = 2 ** 53;

/** True when the decision recorded units in the store: allowed, not a shadow would-deny, not the fallback's. */
function recorded(decision: Decision): boolean {
  if (!decision.allowed || decision.source === 'fallback') return false;
  return decision.shadow !== true || decision.wouldAllow === true;
}

/** The options `check()` knows; any other name is refused, so a typo (`cots`) is never a silent default. */
const CHECK_OPTION_KEYS: readonly (keyof CheckOptions)[] = ['timestamp', 'cost'];

/** A store that decides in-process (MemoryStore): `checkSync` is there. */
type SyncStore = Store & Required<Pick<Store, 'checkSync'>>;

/**
 * The limiter: validates a request, resolves its time and cost, and asks the store for one atomic
 * decision. Limits are results (`Decision`), never exceptions; exceptions mean bad input.
 */
export class RateLimiter {
  readonly #options: ParsedOptions;
  readonly #resilient: ResilientStore | undefined;
  /** The store as given, for calls that are not decisions and need no fallback (`reset`). */
  readonly #rawStore: Store;
  readonly #defaults: ClientLimit;
  /** Local quota leases when `lease` is on; decisions then go through it instead of straight to the store. */
  readonly #leases: LeaseManager | undefined;
  /** Store denials repeated locally until their retryAfter, when `denialCache` is on. */
  readonly #denials: DenialCache | undefined;
  readonly #stopHearingLimits: (() => void) | undefined;
  readonly #metrics: LimiterMetrics | undefined;
  readonly #detachMetrics: (() => void) | undefined;
  readonly #adaptive: AdaptiveLimit | undefined;
  /** Policy mode (`policies` or `tiers`): default policies, tiers, configs and settle. */
  readonly #policy: PolicyMode | undefined;
  /** Relabels decisions in policy or shadow mode; undefined otherwise, so plain checks get no extra tick. */
  readonly #relabel: ((decision: Decision) => Decision) | undefined;
  /**
   * True when the store is the MemoryStore this limiter made with its own default clock: `tryCheckSync`
   * then lets the store read the clock (the same one) instead of reading it twice per decision.
   */
  readonly #storeReadsOurClock: boolean;
  #closed = false;

  constructor(options: RateLimiterOptions | PolicyRateLimiterOptions) {
    const parsed = parseOptions(options);
    this.#rawStore = parsed.store;
    // With metrics on, the store is observed and store failures counted before anything wraps them.
    const attached = attachMetrics(parsed);
    this.#metrics = attached?.metrics;
    this.#detachMetrics = attached?.detach;
    const observed = attached?.options ?? parsed;
    // Wrapped once here: every store call below gets the timeout, breaker and fallback.
    this.#resilient = wrapStore(observed);
    this.#options = this.#resilient === undefined ? observed : { ...observed, store: this.#resilient };
    this.#storeReadsOurClock = parsed.ownsStore && parsed.now === defaultNow && this.#options.store === parsed.store;
    const { policies, tiers, shadow } = parsed.policy;
    if (policies !== undefined) {
      // The unwrapped store: config, tier and settle calls are not decisions (no fallback applies).
      this.#policy = new PolicyMode({
        store: parsed.store as unknown as PolicyStore,
        policies,
        tiers,
        bucketMs: parsed.bucketMs,
        onTiersChanged: () => this.#forgetAll(),
      });
      this.#policy.reloadTiers().catch(() => undefined);
    }
    this.#defaults = this.#policy?.defaults ?? { limit: this.#options.limit, windowSeconds: this.#options.windowSeconds };
    if (this.#policy !== undefined || shadow) {
      const inPolicyMode = this.#policy !== undefined;
      this.#relabel = (decision) => {
        const d = inPolicyMode ? asPolicyDecision(decision) : decision;
        return shadow || (d as PolicyDecision).shadow === true ? shadowDecision(d) : d;
      };
    }
    const { lease, store, algorithm, now, bucketMs } = this.#options;
    // Needs the request's time on this instance's clock, which a store that keeps its own does not take.
    if (this.#options.denialCache && !store.hasOwnClock) {
      const denials = (this.#denials = new DenialCache());
      this.#stopHearingLimits = store.onLimitChange((clientId) => (clientId === undefined ? denials.invalidateAll() : denials.invalidate(clientId)));
    }
    // The lease manager remembers its acquisitions' denials in the cache itself, before their queues drain.
    this.#leases =
      lease === undefined ? undefined : new LeaseManager({ store, algorithm, bucketMs, defaults: this.#defaults, lease, now, denials: this.#denials });
    // Clients holding a lease on this instance count as tracked here, beside the store's own.
    const leases = this.#leases;
    if (leases !== undefined) this.#metrics?.trackClients(() => leases.size);
    // The unwrapped store: sharing the factor is a background call with its own deadline.
    if (parsed.adaptive !== undefined) this.#adaptive = new AdaptiveLimit(parsed.adaptive, parsed.store, this.#metrics);
  }

  /** This limiter's metrics (counts, status-page figures), or `undefined` when `metrics` is off. */
  get metrics(): LimiterMetrics | undefined {
    return this.#metrics;
  }

  /** The load-adaptive factor controller, or `undefined` when `adaptive` is off. */
  get adaptive(): AdaptiveLimit | undefined {
    return this.#adaptive;
  }

  /**
   * The timeout, breaker and fallback wrapper around a store that can fail (its `late` and
   * `instances` figures are for metrics); undefined for an in-process store, which is not wrapped.
   */
  get resilientStore(): ResilientStore | undefined {
    return this.#resilient;
  }

  /** The default limit for clients without their own. */
  get defaults(): ClientLimit {
    return { ...this.#defaults };
  }

  get algorithm(): ParsedOptions['algorithm'] {
    return this.#options.algorithm;
  }

  /** Decides one request: allowed or not, with the figures for rate-limit headers. */
  check(clientId: string, options?: CheckOptions): Promise<Decision> {
    let timestamp: number | undefined;
    let cost = 1;
    try {
      checkClientId(clientId);
      if (options !== undefined) {
        const o = checkPlainObject(options, 'check options', ErrorCodes.INVALID_ARGUMENT);
        checkKnownKeys(o, CHECK_OPTION_KEYS, 'check options', ErrorCodes.INVALID_ARGUMENT);
        if (options.timestamp !== undefined) timestamp = this.#checkSkew(checkTimestamp(options.timestamp, 'check options.timestamp'), options.timestamp);
        if (options.cost !== undefined) cost = checkCost(options.cost, 'check options.cost');
      }
      if (this.#closed) throw new ClosedError();
    } catch (error) {
      // Bad input rejects instead of throwing synchronously, so callers handle one failure path.
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- validation only throws Errors
      return Promise.reject(error);
    }
    const decision = this.#decide(clientId, timestamp, cost);
    return this.#relabel === undefined ? decision : decision.then(this.#relabel);
  }

  /**
   * `check(clientId, { cost })` answered synchronously when it can be, for a caller on a hot path that
   * would otherwise pay a promise per request: the decision when the store is in-process and decides
   * synchronously (`Store.checkSync`, as MemoryStore does) and leases are off; `undefined` otherwise,
   * having recorded nothing (call `check` then). Throws what `check` would reject with.
   */
  tryCheckSync(clientId: string, cost = 1): Decision | undefined {
    const { store } = this.#options;
    if (store.checkSync === undefined || this.#leases !== undefined) return this.#tryLocally(clientId, cost);
    checkClientId(clientId);
    checkCost(cost, 'tryCheckSync cost');
    if (this.#closed) throw new ClosedError();
    const timestamp =
      store.hasOwnClock || this.#storeReadsOurClock
        ? undefined
        : checkTimestamp(this.#options.now(), 'the value returned by RateLimiter options.now()', ErrorCodes.INVALID_OPTION);
    const decision = this.#decideSync(store as SyncStore, clientId, timestamp, cost);
    return this.#relabel === undefined ? decision : this.#relabel(decision);
  }

  /**
   * The client's decision as `check` would make it for one more unit, recording nothing: a request
   * that costs more than any limit is always denied, and a denial records nothing (the Store contract).
   * `limit - remaining` is then what the window holds. Units leased to another instance count as used;
   * this instance's own unspent lease does not (it is still this instance's to give).
   */
  peek(clientId: string, options?: Pick<CheckOptions, 'timestamp'>): Promise<Decision> {
    let timestamp: number | undefined;
    try {
      checkClientId(clientId);
      if (options?.timestamp !== undefined) timestamp = checkTimestamp(options.timestamp, 'peek options.timestamp');
      if (this.#closed) throw new ClosedError();
      if (timestamp === undefined && !this.#options.store.hasOwnClock) {
        timestamp = checkTimestamp(this.#options.now(), 'the value returned by RateLimiter options.now()', ErrorCodes.INVALID_OPTION);
      }
    } catch (error) {
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- validation only throws Errors
      return Promise.reject(error);
    }
    const limitFactor = this.#adaptive === undefined ? 1 : this.#adaptive.factor;
    const { algorithm, bucketMs } = this.#options;
    const request = { clientId, timestamp, cost: PEEK_COST, defaults: this.#defaults, algorithm, bucketMs, extra: 0, limitFactor };
    const held = this.#leases?.unspent(clientId) ?? 0;
    const read = this.#options.store.check(request);
    // As a lease decision does: units leased here and not yet spent are added back to what remains.
    const decision = held === 0 ? read : read.then((d) => ({ ...d, remaining: Math.min(d.limit, d.remaining + held) }));
    return this.#relabel === undefined ? decision : decision.then(this.#relabel);
  }

  /**
   * Gives back the units one allowed decision recorded (`cost` of them), at the time it recorded them, in
   * one atomic store call: for a request that should not count after all (a failed or a successful request
   * under skipFailedRequests / skipSuccessfulRequests). A decision that recorded nothing (denied, shadow
   * would-deny, or decided by the fallback while the store was down) gives back nothing. Units are given
   * back at most once per call: call it once per decision.
   */
  async release(clientId: string, decision: Decision, cost = 1): Promise<void> {
    checkClientId(clientId);
    checkCost(cost, 'release cost');
    if (decision === null || typeof decision !== 'object' || typeof decision.allowed !== 'boolean' || !Number.isFinite(decision.timestamp)) {
      throw typeError(ErrorCodes.INVALID_ARGUMENT, 'slidegate: RateLimiter release() needs the Decision that check() returned');
    }
    if (this.#closed) throw new ClosedError();
    if (!recorded(decision)) return;
    // A lease decision's units were recorded in the bucket of the lease's time, which holds the
    // decision's effective time too. Decisions carry seconds (ms precision); stores take ms.
    await this.#options.store.release(clientId, this.#options.algorithm, { at: toMs(decision.timestamp), units: cost }, this.#defaults);
    // The units given back free capacity that a remembered denial, or a full lease, would not know of.
    this.#denials?.invalidate(clientId);
    this.#leases?.freed(clientId);
  }

  /**
   * Forgets everything recorded for the client (its window starts empty, its clock too); its own limit
   * stays. Needs a store with `reset` (MemoryStore and RedisStore have it).
   */
  async reset(clientId: string): Promise<void> {
    checkClientId(clientId);
    if (this.#closed) throw new ClosedError();
    const store = this.#rawStore;
    if (typeof store.reset !== 'function') {
      throw typeError(ErrorCodes.INVALID_OPTION, 'slidegate: RateLimiter reset() needs a store with a reset(clientId) method (MemoryStore and RedisStore have one)');
    }
    // The lease goes first, so no unit leased before the reset is spent after it (nor its clock sent
    // to the fresh record); a remembered denial after, so none made before the reset outlives it.
    this.#leases?.forget(clientId);
    await store.reset(clientId);
    this.#denials?.invalidate(clientId);
  }

  /**
   * `tryCheckSync` on a store that is not in-process: the decision when this instance can make it on
   * its own (a lease covers the request, or a remembered denial still holds), else `undefined`.
   */
  #tryLocally(clientId: string, cost: number): Decision | undefined {
    if ((this.#leases === undefined && this.#denials === undefined) || this.#options.store.hasOwnClock) return undefined;
    checkClientId(clientId);
    checkCost(cost, 'tryCheckSync cost');
    if (this.#closed) throw new ClosedError();
    const timestamp = checkTimestamp(this.#options.now(), 'the value returned by RateLimiter options.now()', ErrorCodes.INVALID_OPTION);
    const metrics = this.#metrics;
    const startedAt = metrics === undefined ? -1 : metrics.startTimer();
    const decision = this.#decideLocally(clientId, timestamp, cost, this.#adaptive === undefined ? 1 : this.#adaptive.factor);
    if (decision === undefined) return undefined;
    metrics?.decision(clientId, decision, startedAt);
    return this.#relabel === undefined ? decision : this.#relabel(decision);
  }

  /** A decision this instance makes without the store: from the client's lease, or its remembered denial. */
  #decideLocally(clientId: string, timestamp: number, cost: number, limitFactor: number): Decision | undefined {
    // A lease first: its units are recorded in the store, so spending them is exact even while a denial of another cost is remembered.
    const spent = this.#leases?.trySpend(clientId, timestamp, cost, limitFactor);
    if (spent !== undefined) {
      this.#denials?.forgetAllowed(clientId);
      return spent;
    }
    // Timestamps here are whole ms, as the cache keeps them.
    return this.#denials?.lookup(clientId, timestamp, cost, limitFactor);
  }

  /** Drops what this instance holds for the client (lease, remembered denial): its limit changed. */
  #forget(clientId: string): void {
    this.#leases?.invalidate(clientId);
    this.#denials?.invalidate(clientId);
  }

  #forgetAll(): void {
    this.#leases?.invalidateAll();
    this.#denials?.invalidateAll();
  }

  /** The seed API: true when the request at `timestamp` (default: now) is allowed, and records it if so. */
  async isAllowed(clientId: string, timestamp?: number): Promise<boolean> {
    const decision = await this.check(clientId, timestamp === undefined ? undefined : { timestamp });
    return decision.allowed;
  }

  /**
   * Gives the client its own limit, stored beside its counts. It applies from the next decision;
   * requests already recorded keep counting.
   */
  async updateLimit(clientId: string, limit: number, windowSeconds: number): Promise<void> {
    checkClientId(clientId);
    checkLimit(limit);
    checkWindowSeconds(windowSeconds);
    if (this.#closed) throw new ClosedError();
    await this.#options.store.setLimit({
      clientId,
      limit: { limit, windowSeconds },
      defaults: this.#defaults,
      algorithm: this.#options.algorithm,
      bucketMs: this.#options.bucketMs,
    });
    // Other instances learn of the change through store.onLimitChange; this one drops its lease now.
    this.#forget(clientId);
    this.#metrics?.configUpdated();
  }

  /**
   * Removes the client's own limit (in policy mode, its whole config: own policies, tier, shadow), so
   * the defaults apply again from its next decision, on every instance that shares the store (told as
   * for `updateLimit`). Recorded requests keep counting under the window-change rule. Own limits never
   * expire: this is how one goes. Needs a store with `deleteLimit` (MemoryStore and RedisStore have it).
   */
  async deleteLimit(clientId: string): Promise<void> {
    checkClientId(clientId);
    if (this.#closed) throw new ClosedError();
    if (typeof this.#rawStore.deleteLimit !== 'function') {
      throw typeError(ErrorCodes.INVALID_OPTION, 'slidegate: RateLimiter deleteLimit() needs a store with a deleteLimit(request) method (MemoryStore and RedisStore have one)');
    }
    // Through the wrapped store, so the fallback forgets the limit too.
    await this.#options.store.deleteLimit?.({ clientId, defaults: this.#defaults, algorithm: this.#options.algorithm, bucketMs: this.#options.bucketMs });
    this.#leases?.invalidate(clientId);
    this.#metrics?.configUpdated();
  }

  /**
   * Policy mode: sets the client's whole config, an array of policies (its own, replacing the
   * defaults) or `{ tier, policies, shadow }` (own policies are then laid over the tier's, window
   * by window). It applies from the next decision; recorded requests keep counting, under the
   * window-change rule for windows added or removed.
   */
  async updatePolicies(clientId: string, policies: ClientLimit[] | { tier?: string; policies?: ClientLimit[]; shadow?: boolean }): Promise<void> {
    checkClientId(clientId);
    const mode = this.#policyMode('updatePolicies');
    const config = mode.config(policies);
    if (this.#closed) throw new ClosedError();
    await mode.setPolicies(clientId, config);
    this.#forget(clientId);
    this.#metrics?.configUpdated();
  }

  /** Policy mode: the policies that apply to the client, and its own config. */
  async getPolicies(clientId: string): Promise<ClientPolicies> {
    checkClientId(clientId);
    const mode = this.#policyMode('getPolicies');
    if (this.#closed) throw new ClosedError();
    return mode.getPolicies(clientId);
  }

  /**
   * Policy mode: defines (or, with `undefined`, removes) a tier for every instance on the store;
   * each reloads its tiers when the store announces the change (within a second).
   */
  async setTier(name: string, policies: ClientLimit[] | undefined): Promise<void> {
    const mode = this.#policyMode('setTier');
    if (this.#closed) throw new ClosedError();
    await mode.setTier(name, policies);
  }

  /** Policy mode: the tiers this instance decides with (option tiers, overlaid by stored ones). */
  get tiers(): TierTable {
    return { ...this.#policyMode('tiers').defaults.tiers };
  }

  /**
   * Policy mode: checks `estimate` units now (the decision is in `reservation.decision`); give the
   * reservation to `settle` once the true cost is known.
   */
  async reserve(clientId: string, options: ReserveOptions): Promise<Reservation> {
    const mode = this.#policyMode('reserve');
    checkKnownKeys(checkPlainObject(options, 'reserve options', ErrorCodes.INVALID_ARGUMENT), ['estimate', 'timestamp'], 'reserve options', ErrorCodes.INVALID_ARGUMENT);
    const { estimate, timestamp } = options;
    checkCost(estimate, 'reserve options.estimate');
    const decision = asPolicyDecision(await this.check(clientId, timestamp === undefined ? { cost: estimate } : { cost: estimate, timestamp }));
    return mode.reservation(clientId, estimate, decision);
  }

  /**
   * Policy mode: settles a reservation with its true cost (an integer >= 0). Less than the estimate
   * refunds the difference, more charges it, at the reservation's second and in every policy whose
   * window still holds that second; a charge is recorded even past the limit. Resolves to the units
   * charged (negative: refunded); 0 when nothing was recorded or the costs are equal.
   */
  async settle(reservation: Reservation, actualCost: number): Promise<number> {
    const mode = this.#policyMode('settle');
    const r = checkReservation(reservation);
    const actual = checkActualCost(actualCost);
    if (this.#closed) throw new ClosedError();
    // A refund frees capacity that a remembered denial, or a full lease, would not know of.
    this.#denials?.invalidate(r.clientId);
    this.#leases?.freed(r.clientId);
    return mode.settle(r, actual, this.#adaptive === undefined ? 1 : this.#adaptive.factor);
  }

  /** The limit that applies to the client: its own, or the limiter's default (in policy mode: its shortest-window policy). */
  async getLimit(clientId: string): Promise<ClientLimit> {
    checkClientId(clientId);
    if (this.#closed) throw new ClosedError();
    if (this.#policy !== undefined) return (await this.#policy.getPolicies(clientId)).policies[0] as ClientLimit;
    return (await this.#options.store.getLimit(clientId)) ?? this.defaults;
  }

  /** Stops timers; closes the store only when the limiter created it. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      // The adaptive proposal is withdrawn while the store is still open, too.
      if (this.#adaptive !== undefined) await this.#adaptive.close();
      this.#policy?.close();
      this.#stopHearingLimits?.();
      // Leases first: their unspent units go back while the store is still open.
      if (this.#leases !== undefined) await this.#leases.close();
      if (this.#resilient !== undefined) await this.#resilient.close();
      if (this.#options.ownsStore) await this.#options.store.close();
    } finally {
      // Last, so the units the leases gave back on the way out are counted too.
      this.#detachMetrics?.();
    }
  }

  /**
   * Refuses a timestamp further ahead of the limiter's clock than `maxClockSkewSeconds`: recorded,
   * it would move the client's clock forward and deny the client until real time caught up.
   */
  #checkSkew(timestamp: number, given: number): number {
    // `timestamp` is the validated time in ms; `given` the caller's seconds, which the clock (`now()`) also reads.
    const bound = this.#options.maxClockSkewSeconds;
    if (bound === Infinity) return timestamp;
    const now = this.#options.now();
    if (!(given > now + bound)) return timestamp;
    // 1e11 s is the year 5138, while milliseconds since 1973 are all above 1e11.
    const hint = given >= 1e11 ? ' It looks like milliseconds: timestamps are seconds (Date.now() / 1000).' : '';
    throw rangeError(
      ErrorCodes.INVALID_ARGUMENT,
      `slidegate: check options.timestamp is ${Math.round(given - now)} s ahead of the limiter's clock (${now}), more than ` +
        `RateLimiter options.maxClockSkewSeconds (${bound}); got ${describe(given)}.${hint}`,
    );
  }

  #policyMode(method: string): PolicyMode {
    if (this.#policy === undefined) {
      throw typeError(ErrorCodes.INVALID_ARGUMENT, `slidegate: RateLimiter ${method}() needs policy mode: create the limiter with options.policies (or options.tiers)`);
    }
    return this.#policy;
  }

  /** One decision of a store that decides synchronously, counted in the metrics; throws what the store throws. */
  #decideSync(store: SyncStore, clientId: string, timestamp: number | undefined, cost: number): Decision {
    const metrics = this.#metrics;
    const startedAt = metrics === undefined ? -1 : metrics.startTimer();
    const limitFactor = this.#adaptive === undefined ? 1 : this.#adaptive.factor;
    const { algorithm, bucketMs } = this.#options;
    const decision = store.checkSync({ clientId, timestamp, cost, defaults: this.#defaults, algorithm, bucketMs, extra: 0, limitFactor });
    metrics?.decision(clientId, decision, startedAt);
    return decision;
  }

  #decide(clientId: string, timestamp: number | undefined, cost: number): Promise<Decision> {
    const { store } = this.#options;
    if (timestamp === undefined && !store.hasOwnClock) {
      // A clock that returns NaN or a negative number would otherwise decide at a nonsense time.
      try {
        timestamp = checkTimestamp(this.#options.now(), 'the value returned by RateLimiter options.now()', ErrorCodes.INVALID_OPTION);
      } catch (error) {
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- validation only throws Errors
        return Promise.reject(error);
      }
    }
    const metrics = this.#metrics;
    if (metrics !== undefined && this.#leases === undefined && store.checkSync !== undefined) {
      // An in-process store answers synchronously: count the decision now, with no extra promise tick.
      try {
        return Promise.resolve(this.#decideSync(store as SyncStore, clientId, timestamp, cost));
      } catch (error) {
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the store throws Errors
        return Promise.reject(error);
      }
    }
    const startedAt = metrics === undefined ? -1 : metrics.startTimer();
    const limitFactor = this.#adaptive === undefined ? 1 : this.#adaptive.factor;
    if (timestamp !== undefined) {
      // A lease or a remembered denial decides synchronously: no store call, no extra promise tick.
      const local = this.#decideLocally(clientId, timestamp, cost, limitFactor);
      if (local !== undefined) {
        metrics?.decision(clientId, local, startedAt);
        return Promise.resolve(local);
      }
    }
    // With leases the store never keeps its own clock (refused at construction), so timestamp is set.
    const decision =
      this.#leases !== undefined && timestamp !== undefined
        ? this.#leases.decide(clientId, timestamp, cost, limitFactor)
        : store.check({
            clientId,
            timestamp,
            cost,
            defaults: this.#defaults,
            algorithm: this.#options.algorithm,
            bucketMs: this.#options.bucketMs,
            extra: 0,
            limitFactor,
          });
    const denials = this.#denials;
    // Without metrics or denial cache the store's own promise goes back untouched: no extra tick.
    if (metrics === undefined && denials === undefined) return decision;
    return decision.then((d) => {
      denials?.remember(clientId, d, cost, limitFactor);
      metrics?.decision(clientId, d, startedAt);
      return d;
    });
  }
}
