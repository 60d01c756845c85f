// The module's export, not the global: Node 20's global `performance` is an accessor, a call on every read (each spend).
import { performance } from 'node:perf_hooks';
import type { Algorithm, ClientLimit, Decision, LeaseRelease, Store, StoreDecision } from '../types';
import { defaultNow } from '../options';
import { LEASE_MAX_AGE_MS, LEASE_SPEND_MS, type ParsedLeaseOptions } from './lease-options';
import { leaseSize, RATE_TRUSTED_AFTER_MS } from './lease-size';
import { bucketWidth } from '../time';
import type { DenialCache } from './denial-cache';
import { isPolicyDefaults } from '../policies/policy-validation';

/**
 * Requests queued for one client while its acquisition is in flight. Past this many the next ones
 * skip the queue and ask the store directly (still exact; they only forgo the shared acquisition),
 * so a stalled store cannot pile up an unbounded queue.
 */
export const MAX_WAITERS_PER_CLIENT = 65_536;

interface Waiter {
  timestamp: number;
  cost: number;
  limitFactor: number;
  resolve: (decision: Decision) => void;
  reject: (error: unknown) => void;
}

/** One client's lease on this instance, and the requests waiting for its next acquisition. */
class LeaseEntry {
  /** Effective time (ms) at which the leased units were recorded in the shared window. */
  at = -1;
  /**
   * The last ms at which leased units may be spent: the end of the bucket that holds `at` (a unit
   * spent later would count for less time than its own window), and before the oldest counted
   * bucket leaves the window (so `remaining` and `resetAfter` stay what the store would say).
   */
  spendUntil = -1;
  /** The newest effective time (ms) this instance decided for the client: its decisions never run backwards. */
  clock = -1;
  /** The newest effective time (ms) the store is known to have as the client's clock T (its last grant). */
  storeClock = -1;
  /** When (ms) the oldest counted bucket leaves the window, as the store said at grant. */
  resetAt = 0;
  /** Unspent leased units; only requests whose time is at most `spendUntil` may spend them. */
  units = 0;
  limit = 0;
  windowSeconds = 0;
  /** The store's `remaining` at grant, which counts every leased unit as used. */
  storeRemaining = 0;
  /**
   * When the last grant left the client nothing (`remaining` 0): until this ms (its `resetAt`) the
   * store's count stands at the limit, so once the lease is spent a request of cost 1 is denied
   * there, with figures known here. 0 when not known full (also after any limit change).
   */
  fullUntil = 0;
  /** The adaptive limit factor of that grant: another factor may allow. */
  fullFactor = 1;
  resetAfter = 0;
  /** Real ms (performance.now) when the acquisition that granted the lease was sent (the grant happened after). */
  sentAtMs = 0;
  /** The same moment on the limiter's injected clock, when it has one. */
  sentAtLogicalMs = 0;
  lastUsedMs = 0;
  /** Units decided for the client since its previous acquisition: the demand the next lease is sized for. */
  spent = 0;
  /** Real ms (performance.now) when the previous acquisition was sent: with `spent`, the client's rate. */
  acquiredAtMs = -Infinity;
  /** The client's rate (units per ms) over the last RATE_TRUSTED_AFTER_MS or more; 0 until measured. */
  unitsPerMs = 0;
  /** Units decided since `rateFromMs` (ms on the limiter's clock), before the current lease: the rate's next measure. */
  rateUnits = 0;
  rateFromMs = -1;
  /** Bumped when the client's limit changes, so an acquisition in flight at that moment grants nothing. */
  generation = 0;
  acquiring = false;
  /**
   * The low-water mark: once a spend leaves this many units or fewer, the next lease is fetched
   * while this one is still spent (a refill). -1: no refill for this lease.
   */
  refillAt = -1;
  /** A refill is in flight: requests the lease still covers spend meanwhile, the others wait for it. */
  refilling = false;
  /** Units decided per real ms over the lease before the last store call: with the round trip, sizes the low-water mark. */
  realUnitsPerMs = 0;
  /** Refills in a row that came in after the lease had run out (requests waited anyway). */
  lateRefills = 0;
  /** Leases to go without a refill, after late ones: 2^lateRefills - 1. */
  refillSkips = 0;
  waiters: Waiter[] = [];
  head = 0;
  waitingUnits = 0;
}

export interface LeaseManagerOptions {
  store: Store;
  algorithm: Algorithm;
  /** The limiter's `bucketMs` option. */
  bucketMs: number | undefined;
  /**
   * The limiter's denial cache, when on: a store denial of an acquisition is remembered there at
   * once, so that requests queued behind it are answered from it instead of each asking the store.
   */
  denials?: DenialCache | undefined;
  defaults: ClientLimit;
  lease: ParsedLeaseOptions;
  /**
   * The limiter's clock, in seconds. Lease lifetimes run on real time (what a store's expiry runs
   * on) and, when this is an injected clock, on it as well: a lease ends when either says so.
   */
  now: () => number;
}

/**
 * Local quota leases: decides a client's requests in-process from units that the store recorded
 * for this instance, and makes every store call one atomic "give back what is unspent, then check
 * (and grant a new lease)". Because each admitted request has a unit recorded at its own
 * effective time, the shared window stays exact for any timestamps (see the README, "Leases").
 */
export class LeaseManager {
  readonly #store: Store;
  readonly #algorithm: Algorithm;
  readonly #bucketMs: number | undefined;
  readonly #defaults: ClientLimit;
  readonly #options: ParsedLeaseOptions;
  readonly #denials: DenialCache | undefined;
  /**
   * True for an exact window (sliding-window, sliding-log) outside policy mode: its count stands still
   * until the oldest counted bucket leaves. The counter's estimate decays continuously.
   */
  readonly #exactWindow: boolean;
  /** The injected clock, or undefined when the limiter runs on real time. */
  readonly #logicalNow: (() => number) | undefined;
  /** The injected clock in ms as of the last #now(). */
  #logicalMs = 0;
  readonly #entries = new Map<string, LeaseEntry>();
  /** When clients decided without an entry were last seen, in the current and the previous idleMs (see #seenRecently). */
  #seen = new Map<string, number>();
  #seenBefore = new Map<string, number>();
  #seenSinceMs = -Infinity;
  readonly #inFlight = new Set<Promise<unknown>>();
  /** Leases can be refilled before they run out: 'sliding-window' outside policy mode, whose leases last to the end of a bucket. */
  readonly #refills: boolean;
  /** The store's round trip in real ms (the longest of late, see #roundTrip): how early a refill must start. */
  #roundTripMs = -1;
  readonly #unsubscribe: () => void;
  #sweepTimer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: LeaseManagerOptions) {
    this.#store = options.store;
    this.#algorithm = options.algorithm;
    this.#bucketMs = options.bucketMs;
    this.#defaults = options.defaults;
    this.#options = options.lease;
    this.#denials = options.denials;
    this.#exactWindow = options.algorithm !== 'sliding-counter' && !isPolicyDefaults(options.defaults);
    this.#refills = options.algorithm === 'sliding-window' && !isPolicyDefaults(options.defaults);
    this.#logicalNow = options.now === defaultNow ? undefined : options.now;
    this.#unsubscribe = this.#store.onLimitChange((clientId) => {
      if (clientId === undefined) this.invalidateAll();
      else this.invalidate(clientId);
    });
  }

  /** Clients with a lease entry (held units, recent activity or waiters). */
  get size(): number {
    return this.#entries.size;
  }

  /** Decides one request; `timestamp` is whole ms on the caller's clock. */
  decide(clientId: string, timestamp: number, cost: number, limitFactor: number): Promise<Decision> {
    const nowMs = this.#now();
    let entry = this.#entries.get(clientId);
    if (entry === undefined) {
      // A client not seen within idleMs would get no lease from this call (no demand is known yet):
      // it asks the store as without leases, and is tracked only if it comes back soon.
      if (!this.#seenRecently(clientId, nowMs) && this.#denials?.hasLapsed(clientId) !== true) return this.#direct(clientId, timestamp, cost, limitFactor);
      entry = new LeaseEntry();
      this.#entries.set(clientId, entry);
      this.#startSweeping();
    } else if (entry.acquiring || (entry.refilling && (entry.head < entry.waiters.length || !this.#canSpend(entry, timestamp, cost, nowMs)))) {
      // Behind a store call for the client: an acquisition, or a refill that this lease cannot cover
      // the request until (and behind requests already waiting for it, in arrival order).
      if (entry.waiters.length - entry.head >= MAX_WAITERS_PER_CLIENT) return this.#direct(clientId, timestamp, cost, limitFactor);
      return new Promise<Decision>((resolve, reject) => {
        entry!.waiters.push({ timestamp, cost, limitFactor, resolve, reject });
        entry!.waitingUnits += cost;
      });
    } else if (this.#canSpend(entry, timestamp, cost, nowMs)) {
      return Promise.resolve(this.#spend(clientId, entry, timestamp, cost, limitFactor, nowMs));
    } else {
      const full = this.#fullDenial(clientId, entry, timestamp, cost, limitFactor, nowMs);
      if (full !== undefined) return Promise.resolve(full);
    }
    return this.#acquire(clientId, entry, timestamp, cost, limitFactor, nowMs);
  }

  /**
   * Spends from the client's lease at once when it covers the request, else `undefined` (then
   * `decide` must ask the store). Lets callers that observe every decision skip a promise tick.
   * `limitFactor` is the one a refill this spend starts asks with.
   */
  trySpend(clientId: string, timestamp: number, cost: number, limitFactor = 1): Decision | undefined {
    const entry = this.#entries.get(clientId);
    if (entry === undefined || entry.acquiring || entry.head < entry.waiters.length) return undefined;
    const nowMs = this.#now();
    return this.#canSpend(entry, timestamp, cost, nowMs) ? this.#spend(clientId, entry, timestamp, cost, limitFactor, nowMs) : undefined;
  }

  /** The client's leased units on this instance not yet spent (recorded as used in the store). */
  unspent(clientId: string): number {
    return this.#entries.get(clientId)?.units ?? 0;
  }

  /** Drops the client's lease (its units go back to the store) so its new limit applies from the next decision. */
  invalidate(clientId: string): void {
    const entry = this.#entries.get(clientId);
    if (entry === undefined) return;
    this.#drop(clientId, entry, this.#now());
  }

  /**
   * Forgets the client outright, giving nothing back and no clock to the store: its record there is
   * being reset (RateLimiter.reset), so neither its units nor its clock may reach the fresh one.
   */
  forget(clientId: string): void {
    const entry = this.#entries.get(clientId);
    if (entry === undefined) return;
    entry.generation++;
    entry.units = 0;
    entry.storeRemaining = 0;
    entry.fullUntil = 0;
    entry.clock = -1;
    entry.storeClock = -1;
    // An acquisition or refill in flight keeps the entry for its waiters; its grant is given back (generation).
    if (!entry.acquiring && !entry.refilling) this.#entries.delete(clientId);
  }

  /**
   * Capacity of the client was given back outside its lease (RateLimiter release, settle): what its
   * last grant said of a full window no longer holds.
   */
  freed(clientId: string): void {
    const entry = this.#entries.get(clientId);
    if (entry !== undefined) entry.fullUntil = 0;
  }

  /** Drops every lease: some limit may have changed unseen. */
  invalidateAll(): void {
    const nowMs = this.#now();
    for (const [clientId, entry] of this.#entries) this.#drop(clientId, entry, nowMs);
  }

  /** Invalidates the lease and what was known of the client's remaining quota (it was under the old limit). */
  #drop(clientId: string, entry: LeaseEntry, nowMs: number): void {
    entry.generation++;
    entry.storeRemaining = 0;
    entry.fullUntil = 0;
    this.#giveBack(clientId, entry, nowMs);
  }

  /**
   * Gives back idle leases (and leases near the end of their lifetime) and forgets idle clients.
   * Run by one unref'd timer for all clients; public so tests can drive it with a fake clock.
   */
  sweep(): void {
    const nowMs = this.#now();
    const { idleMs } = this.#options;
    // Leases past their spending age are given back while a release is still surely safe.
    const retireAtMs = LEASE_SPEND_MS - this.#sweepIntervalMs();
    for (const [clientId, entry] of this.#entries) {
      // A store call in flight will leave a lease to the entry: it stays until its answer.
      if (entry.acquiring || entry.refilling) continue;
      const idle = nowMs - entry.lastUsedMs >= idleMs || nowMs < entry.lastUsedMs;
      if (entry.units > 0 && (idle || this.#ageMs(entry, nowMs) >= retireAtMs)) this.#giveBack(clientId, entry, nowMs);
      if (idle && entry.units === 0) {
        // The store learns the lease's clock before the entry that knew it goes.
        this.#giveBack(clientId, entry, nowMs);
        this.#entries.delete(clientId);
      }
    }
    if (this.#entries.size === 0) this.#stopSweeping();
  }

  /** Gives back every unspent unit and stops the timer; waits for acquisitions in flight. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#stopSweeping();
    this.#unsubscribe();
    // Bounded: each round waits for the calls in flight, and a closed manager starts no new lease.
    for (let round = 0; round < 100 && this.#inFlight.size > 0; round++) await Promise.allSettled([...this.#inFlight]);
    const nowMs = this.#now();
    for (const [clientId, entry] of this.#entries) this.#giveBack(clientId, entry, nowMs);
    await Promise.allSettled([...this.#inFlight]);
    this.#entries.clear();
  }

  /**
   * One atomic store call for `clientId`: release the unspent lease, check this request, and grant
   * a new lease sized for the demand. Requests arriving meanwhile wait for it.
   */
  #acquire(clientId: string, entry: LeaseEntry, timestamp: number, cost: number, limitFactor: number, nowMs: number): Promise<Decision> {
    const release = this.#takeUnspent(entry, nowMs);
    // A request older than what a lease decided here is decided at that time, as the store would
    // decide it had the lease's requests come to it (a client's clock never runs backwards).
    const at = timestamp > entry.clock ? timestamp : entry.clock;
    this.#measureRate(entry, timestamp);
    // A client whose cached denial just ran out while it kept asking: its demand is known.
    const lapsed = this.#denials?.takeLapsed(clientId, timestamp);
    if (lapsed !== undefined && lapsed.unitsPerMs > entry.unitsPerMs) entry.unitsPerMs = lapsed.unitsPerMs;
    const extra = this.#closed
      ? 0
      : leaseSize({
          remaining: entry.storeRemaining + (release?.units ?? 0),
          cost,
          spent: entry.spent,
          waiting: entry.waitingUnits,
          elapsedMs: nowMs - entry.acquiredAtMs,
          horizonMs: Math.min(this.#options.idleMs, LEASE_SPEND_MS),
          spendMs: this.#spendMs(at, entry.windowSeconds > 0 ? entry.windowSeconds : (lapsed?.windowSeconds ?? 0)),
          unitsPerMs: entry.unitsPerMs,
          maxUnits: this.#options.maxUnits,
          share: this.#options.share,
        });
    entry.acquiring = true;
    this.#startCall(entry, nowMs);
    const generation = entry.generation;
    const sentAtLogicalMs = this.#logicalMs;
    const call = this.#store
      .check({ clientId, timestamp: at, cost, defaults: this.#defaults, algorithm: this.#algorithm, bucketMs: this.#bucketMs, extra, release, limitFactor })
      .then(
        (decision) => this.#granted(clientId, entry, decision, generation, nowMs, sentAtLogicalMs, timestamp, cost, limitFactor),
        (error: unknown) => {
          entry.acquiring = false;
          this.#flushWaiters(clientId, entry);
          throw error;
        },
      );
    this.#track(call);
    return call;
  }

  #granted(
    clientId: string,
    entry: LeaseEntry,
    decision: StoreDecision,
    generation: number,
    sentAtMs: number,
    sentAtLogicalMs: number,
    timestamp: number,
    cost: number,
    limitFactor: number,
  ): Decision {
    entry.acquiring = false;
    entry.refillAt = -1;
    const granted = decision.granted > 0 ? decision.granted : 0;
    if (decision.source !== 'store') {
      // A fallback decision holds no shared record to lease from: pass it through, and let the
      // waiters ask on their own rather than queue behind a failing store.
      if (granted > 0) this.#release(clientId, { at: Math.round(decision.timestamp * 1000), units: granted });
      this.#flushWaiters(clientId, entry);
      return decision;
    }
    const now = this.#now();
    this.#roundTrip(now - sentAtMs);
    if (decision.allowed) entry.spent = cost;
    // The store's effective time in ms (exact: decisions carry ms as seconds / 1000).
    const at = Math.round(decision.timestamp * 1000);
    if (granted > 0 && (generation !== entry.generation || this.#closed)) {
      // The limit changed (or the limiter closed) while this was in flight: keep nothing leased.
      this.#release(clientId, { at, units: granted });
    } else if (decision.allowed) {
      entry.at = at;
      entry.clock = at;
      entry.storeClock = at;
      entry.resetAt = at + Math.round(decision.resetAfter * 1000);
      // Until the oldest counted bucket leaves, the store's count stands still (but for other
      // instances' requests): spends up to then report exactly what the store would.
      entry.spendUntil = Math.min(this.#bucketEnd(decision, at), entry.resetAt - 1);
      entry.units = granted;
      entry.limit = decision.limit;
      entry.windowSeconds = decision.windowSeconds;
      entry.storeRemaining = decision.remaining;
      entry.resetAfter = decision.resetAfter;
      entry.sentAtMs = sentAtMs;
      entry.sentAtLogicalMs = sentAtLogicalMs;
      entry.fullUntil = decision.remaining === 0 ? entry.resetAt : 0;
      entry.fullFactor = limitFactor;
      if (entry.refillSkips > 0) entry.refillSkips--;
      else entry.refillAt = this.#lowWater(entry);
    } else {
      // Denied: the release already happened in the same call, nothing is leased any more.
      entry.storeRemaining = decision.remaining;
      entry.fullUntil = 0;
    }
    entry.lastUsedMs = now;
    const result: Decision = granted > 0 ? { ...decision, remaining: decision.remaining + granted } : decision;
    // Remembered before the queue drains, so that the requests queued behind this one are answered from it.
    if (!decision.allowed) this.#denials?.remember(clientId, result, cost, limitFactor);
    this.#drain(clientId, entry, now, decision.allowed ? undefined : { decision: result, timestamp, cost });
    return result;
  }

  /** Spends from the lease, and starts its refill when the spend took it down to its low-water mark. */
  #spend(clientId: string, entry: LeaseEntry, timestamp: number, cost: number, limitFactor: number, nowMs: number): Decision {
    const decision = spend(entry, timestamp, cost, nowMs);
    if (entry.units <= entry.refillAt && !entry.refilling) this.#refill(clientId, entry, limitFactor, nowMs);
    return decision;
  }

  /**
   * Fetches the client's next lease while the current one is still spent, so that a hot client's
   * requests need not wait for the store: a store call of cost 0 at the lease's clock (it decides
   * nothing, and grants `extra` only as far as the window allows, as any grant), sized as an
   * acquisition would be, less the units still held, so an instance never holds more than one lease
   * would (bounds in docs/leases.md). Its units are recorded in the bucket of the lease's clock,
   * the lease's own, and join the lease; it keeps the lease's other figures up to date.
   */
  #refill(clientId: string, entry: LeaseEntry, limitFactor: number, nowMs: number): void {
    // One refill a lease: the one it makes sets its own mark.
    entry.refillAt = -1;
    if (this.#closed) return;
    const at = entry.clock;
    // Units the client will not spend before the lease's bucket ends need no company: the request
    // past it acquires anyway.
    if (entry.unitsPerMs > 0 && entry.units >= entry.unitsPerMs * (entry.spendUntil - at)) return;
    this.#measureRate(entry, at);
    // Sized as the acquisition once these units are spent would be: they will be, during the round trip.
    const size = leaseSize({
      remaining: entry.storeRemaining + entry.units,
      cost: 0,
      spent: entry.spent + entry.units,
      waiting: entry.waitingUnits,
      elapsedMs: nowMs - entry.acquiredAtMs,
      horizonMs: Math.min(this.#options.idleMs, LEASE_SPEND_MS),
      spendMs: this.#spendMs(at, entry.windowSeconds),
      unitsPerMs: entry.unitsPerMs,
      maxUnits: this.#options.maxUnits,
      share: this.#options.share,
    });
    const extra = Math.min(size - entry.units, entry.storeRemaining);
    if (extra <= 0) return;
    entry.refilling = true;
    this.#startCall(entry, nowMs);
    const generation = entry.generation;
    const sentAtLogicalMs = this.#logicalMs;
    const call = this.#store
      .check({ clientId, timestamp: at, cost: 0, defaults: this.#defaults, algorithm: this.#algorithm, bucketMs: this.#bucketMs, extra, limitFactor })
      .then(
        (decision) => this.#refilled(clientId, entry, decision, generation, nowMs, sentAtLogicalMs, limitFactor),
        () => {
          // As an acquisition that failed: nothing was granted; the requests waiting for it go on their own.
          entry.refilling = false;
          this.#drain(clientId, entry, this.#now(), undefined);
        },
      );
    this.#track(call);
  }

  #refilled(clientId: string, entry: LeaseEntry, decision: StoreDecision, generation: number, sentAtMs: number, sentAtLogicalMs: number, limitFactor: number): void {
    entry.refilling = false;
    const now = this.#now();
    const granted = decision.granted > 0 ? decision.granted : 0;
    const at = Math.round(decision.timestamp * 1000);
    if (decision.source === 'store') this.#roundTrip(now - sentAtMs);
    // In by the time the lease ran out, or after: a caller that never lets the event loop turn while
    // it spends (a loop of awaits on answers already there) reads the answer only once it has to wait,
    // and then a refill only splits the lease in two calls. Refills late in a row are tried ever less
    // often (1, 3, 7 ... leases skipped); one in time resets that.
    if (entry.units === 0 && entry.head < entry.waiters.length) {
      entry.lateRefills = Math.min(entry.lateRefills + 1, 6);
      entry.refillSkips = 2 ** entry.lateRefills - 1;
    } else {
      entry.lateRefills = 0;
    }
    if (
      decision.source === 'store' &&
      decision.allowed &&
      generation === entry.generation &&
      !this.#closed &&
      decision.limit === entry.limit &&
      decision.windowSeconds === entry.windowSeconds &&
      this.#bucketEnd(decision, at) === this.#bucketEnd(decision, entry.at)
    ) {
      // The new units sit in the lease's bucket: they join it, and the lease takes the refill's
      // figures (its count as of now, every unit held here counted as used) and its age (the store
      // wrote the client's record after the refill was sent, so every unit held is recorded at least
      // as long from then on).
      entry.units += granted;
      entry.at = at;
      if (at > entry.clock) entry.clock = at;
      if (at > entry.storeClock) entry.storeClock = at;
      entry.resetAt = at + Math.round(decision.resetAfter * 1000);
      entry.resetAfter = decision.resetAfter;
      entry.spendUntil = Math.min(this.#bucketEnd(decision, at), entry.resetAt - 1);
      entry.storeRemaining = decision.remaining;
      entry.sentAtMs = sentAtMs;
      entry.sentAtLogicalMs = sentAtLogicalMs;
      entry.fullUntil = decision.remaining === 0 ? entry.resetAt : 0;
      entry.fullFactor = limitFactor;
      entry.refillAt = entry.refillSkips > 0 ? -1 : this.#lowWater(entry);
    } else if (granted > 0) {
      // Another bucket (another instance moved the client's clock past this lease's), another limit,
      // or nothing to lease any more: the units go back; the lease goes on as it was.
      this.#release(clientId, { at, units: granted });
    }
    this.#drain(clientId, entry, now, undefined);
  }

  /** A store call for the lease starts: what was spent since the last one becomes the client's real-time rate. */
  #startCall(entry: LeaseEntry, nowMs: number): void {
    const elapsed = nowMs - entry.acquiredAtMs;
    entry.realUnitsPerMs = elapsed > 0 && elapsed < Infinity ? entry.spent / elapsed : 0;
    entry.spent = 0;
    entry.acquiredAtMs = nowMs;
  }

  /**
   * The lease's low-water mark: the units the client spends, at its real-time rate, in about two of
   * the store's round trips (so the refill lands before they run out), at most half the lease (so
   * that a refill, which tops the lease up to what one acquisition would hold, is worth its call).
   * -1 (no refill) for a lease that took what the store had left, where a refill would get nothing.
   */
  #lowWater(entry: LeaseEntry): number {
    if (!this.#refills || this.#closed || entry.units < 1 || entry.storeRemaining <= 0) return -1;
    const half = Math.floor(entry.units / 2);
    if (this.#roundTripMs < 0) return half;
    return Math.min(half, Math.ceil(entry.realUnitsPerMs * this.#roundTripMs * 2));
  }

  /**
   * Folds one store call's round trip (real ms) into the estimate: a longer one is taken at once, a
   * shorter one only by an eighth of the difference (a refill too early costs a call, one too late
   * makes requests wait).
   */
  #roundTrip(ms: number): void {
    if (!(ms >= 0)) return;
    this.#roundTripMs = ms >= this.#roundTripMs ? ms : this.#roundTripMs + (ms - this.#roundTripMs) / 8;
  }

  /**
   * Serves queued requests in arrival order: from the new lease while it covers them; a request it
   * cannot cover makes the next acquisition, and the rest keep waiting behind that one. Requests
   * identical to a denied one (same ms, same cost) get the same denial: nothing changed between;
   * later ones of the same cost get it from the denial cache, as a request arriving now would.
   */
  #drain(clientId: string, entry: LeaseEntry, nowMs: number, denial: { decision: Decision; timestamp: number; cost: number } | undefined): void {
    const waiters = entry.waiters;
    let cached: Decision | undefined;
    while (entry.head < waiters.length) {
      const waiter = waiters[entry.head] as Waiter;
      if (this.#canSpend(entry, waiter.timestamp, waiter.cost, nowMs)) {
        this.#dequeue(entry, waiter);
        // No refill from here: whether demand goes on past the requests that waited, the next one tells.
        waiter.resolve(spend(entry, waiter.timestamp, waiter.cost, nowMs));
      } else if (denial !== undefined && waiter.timestamp === denial.timestamp && waiter.cost === denial.cost) {
        this.#dequeue(entry, waiter);
        waiter.resolve({ ...denial.decision });
      } else if (
        (cached =
          denial === undefined
            ? this.#fullDenial(clientId, entry, waiter.timestamp, waiter.cost, waiter.limitFactor, nowMs)
            : this.#denials?.lookup(clientId, waiter.timestamp, waiter.cost, waiter.limitFactor)) !== undefined
      ) {
        this.#dequeue(entry, waiter);
        waiter.resolve(cached);
      } else if (entry.refilling) {
        // A refill this spending started: the rest wait for it.
        break;
      } else {
        this.#dequeue(entry, waiter);
        this.#acquire(clientId, entry, waiter.timestamp, waiter.cost, waiter.limitFactor, nowMs).then(waiter.resolve, waiter.reject);
        break;
      }
    }
    if (entry.head === waiters.length && waiters.length > 0) {
      entry.waiters = [];
      entry.head = 0;
    }
  }

  #dequeue(entry: LeaseEntry, waiter: Waiter): void {
    entry.waiters[entry.head] = undefined as unknown as Waiter;
    entry.head++;
    entry.waitingUnits -= waiter.cost;
  }

  /** After a failed or fallback acquisition: every waiter asks the store on its own, concurrently. */
  #flushWaiters(clientId: string, entry: LeaseEntry): void {
    const waiters = entry.waiters.slice(entry.head);
    entry.waiters = [];
    entry.head = 0;
    entry.waitingUnits = 0;
    for (const w of waiters) this.#direct(clientId, w.timestamp, w.cost, w.limitFactor).then(w.resolve, w.reject);
  }

  /** A plain store decision, outside the lease (no grant, no release). */
  #direct(clientId: string, timestamp: number, cost: number, limitFactor: number): Promise<Decision> {
    const clock = this.#entries.get(clientId)?.clock ?? -1;
    return this.#store.check({
      clientId,
      timestamp: timestamp > clock ? timestamp : clock,
      cost,
      defaults: this.#defaults,
      algorithm: this.#algorithm,
      bucketMs: this.#bucketMs,
      extra: 0,
      limitFactor,
    });
  }

  /**
   * Takes the lease's unspent units out of local reach, returning them as a release if that is
   * still safe, with the lease's clock when the store does not know it yet (units 0 then: only the
   * clock moves).
   */
  #takeUnspent(entry: LeaseEntry, nowMs: number): LeaseRelease | undefined {
    const units = entry.units;
    entry.units = 0;
    const releasable = units > 0 && this.#ageMs(entry, nowMs) < LEASE_MAX_AGE_MS;
    const clock = entry.clock > entry.storeClock ? entry.clock : undefined;
    if (clock !== undefined) entry.storeClock = clock;
    if (!releasable && clock === undefined) return undefined;
    return { at: entry.at, units: releasable ? units : 0, clock };
  }

  #giveBack(clientId: string, entry: LeaseEntry, nowMs: number): void {
    const release = this.#takeUnspent(entry, nowMs);
    if (release !== undefined) this.#release(clientId, release);
  }

  /** Releases are best effort: a failed one leaves units recorded until they leave the window (under-admission only). */
  #release(clientId: string, release: LeaseRelease): void {
    const call = this.#store.release(clientId, this.#algorithm, release, this.#defaults).catch(() => undefined);
    this.#track(call);
  }

  #track(call: Promise<unknown>): void {
    const settled: Promise<boolean> = call.then(
      () => this.#inFlight.delete(settled),
      () => this.#inFlight.delete(settled),
    );
    this.#inFlight.add(settled);
  }

  /** Real ms now; also reads the injected clock, if any, into #logicalMs. */
  #now(): number {
    if (this.#logicalNow !== undefined) this.#logicalMs = this.#logicalNow() * 1000;
    return performance.now();
  }

  /** The lease's age: the larger of what real time and the injected clock say (a clock run backwards counts as expired). */
  #ageMs(entry: LeaseEntry, nowMs: number): number {
    const real = nowMs - entry.sentAtMs;
    const age = this.#logicalNow === undefined ? real : Math.max(real, this.#logicalMs - entry.sentAtLogicalMs);
    return age >= 0 ? age : Infinity;
  }

  /**
   * A request may spend leased units only inside the bucket they were recorded in (t up to its last
   * ms; its effective time is then max(t, the lease's clock), in that bucket too), and only while
   * the lease is young enough that the store surely still holds the units.
   */
  #canSpend(entry: LeaseEntry, timestamp: number, cost: number, nowMs: number): boolean {
    return entry.units >= cost && timestamp <= entry.spendUntil && this.#ageMs(entry, nowMs) < LEASE_SPEND_MS;
  }

  /**
   * The store's denial of a request of cost 1 that the spent lease cannot cover, known without
   * asking when the lease's grant left the client nothing: until the oldest counted bucket leaves
   * (`fullUntil`) the store's count stands at the limit (other instances only add to it), so it
   * would deny with remaining 0 and retryAfter = resetAfter = the time to that moment. Remembered in
   * the denial cache (`source: 'cache'`), and only when the cache is on; a late request (before the
   * lease's clock), another cost or another limit factor asks the store, as with any cached denial.
   */
  #fullDenial(clientId: string, entry: LeaseEntry, timestamp: number, cost: number, limitFactor: number, nowMs: number): Decision | undefined {
    const denials = this.#denials;
    if (denials === undefined || !this.#exactWindow || cost !== 1 || timestamp >= entry.fullUntil || timestamp < entry.clock || limitFactor !== entry.fullFactor) return undefined;
    // Unspent units (a request past the lease's bucket) go back with the next store call, which may then allow.
    if (entry.units > 0) return undefined;
    // The grant is recent enough that the store surely still holds what it counted then.
    if (this.#ageMs(entry, nowMs) >= LEASE_MAX_AGE_MS) return undefined;
    const waitS = (entry.fullUntil - timestamp) / 1000;
    const denial: Decision = {
      allowed: false,
      limit: entry.limit,
      windowSeconds: entry.windowSeconds,
      remaining: 0,
      retryAfter: waitS,
      resetAfter: waitS,
      timestamp: timestamp / 1000,
      // What the store would answer, remembered as its denial is; this request is told it came from the cache.
      source: 'store',
    };
    denials.remember(clientId, denial, cost, limitFactor);
    return { ...denial, source: 'cache' };
  }

  /**
   * True when the client was decided here within the last idleMs; marks it seen either way. Costs a
   * map write per request of a cold client, instead of an entry, a lease call and a sweep. A client
   * that comes back less often (many clients, each a few times a second) would have its entry swept
   * as idle before its next request, and never hold a lease: it asks the store directly.
   */
  #seenRecently(clientId: string, nowMs: number): boolean {
    const { idleMs } = this.#options;
    if (nowMs - this.#seenSinceMs >= idleMs) {
      // Two generations of idleMs each: every client seen within the last idleMs is in one of them.
      const older = this.#seenBefore;
      this.#seenBefore = this.#seen;
      older.clear();
      this.#seen = older;
      this.#seenSinceMs = nowMs;
    }
    const lastMs = this.#seen.get(clientId) ?? this.#seenBefore.get(clientId);
    this.#seen.set(clientId, nowMs);
    return lastMs !== undefined && nowMs - lastMs < idleMs;
  }

  /**
   * Adds the units decided since the previous acquisition to the client's rate, measured on the
   * limiter's clock (as the denial cache measures it) over RATE_TRUSTED_AFTER_MS or more.
   */
  #measureRate(entry: LeaseEntry, tMs: number): void {
    const span = tMs - entry.rateFromMs;
    if (entry.rateFromMs < 0 || span < 0) {
      // The first acquisition, or a clock run backwards (a late timestamp): measure afresh.
      entry.rateFromMs = tMs;
      entry.rateUnits = 0;
      return;
    }
    entry.rateUnits += entry.spent;
    if (span < RATE_TRUSTED_AFTER_MS) return;
    entry.unitsPerMs = entry.rateUnits / span;
    entry.rateUnits = 0;
    entry.rateFromMs = tMs;
  }

  /**
   * For how many ms, from `at`, a lease granted at `at` could be spent: to the end of its bucket
   * (a client's window of `windowSeconds`; unknown when 0), at most LEASE_SPEND_MS.
   */
  #spendMs(at: number, windowSeconds: number): number {
    // As #bucketEnd: the counter, the log and policy mode spend leased units at their own ms only.
    if (this.#algorithm !== 'sliding-window' || isPolicyDefaults(this.#defaults) || !(windowSeconds > 0)) return 1;
    const g = bucketWidth(windowSeconds, this.#bucketMs);
    return Math.min(LEASE_SPEND_MS, (Math.floor(at / g) + 1) * g - at);
  }

  /** The last ms of the bucket holding `at`: leased units may be spent up to it. */
  #bucketEnd(decision: StoreDecision, at: number): number {
    // The counter has no buckets, and a store in policy mode takes no lease clock (LeaseRelease.clock):
    // their leased units are spent at their own time only.
    if (this.#algorithm !== 'sliding-window' || (decision as { policies?: unknown }).policies !== undefined) return at;
    const g = bucketWidth(decision.windowSeconds, this.#bucketMs);
    return (Math.floor(at / g) + 1) * g - 1;
  }

  #sweepIntervalMs(): number {
    return Math.max(5, Math.min(100, Math.floor(this.#options.idleMs / 2)));
  }

  #startSweeping(): void {
    if (this.#sweepTimer !== undefined || this.#closed) return;
    this.#sweepTimer = setInterval(() => this.sweep(), this.#sweepIntervalMs());
    this.#sweepTimer.unref();
  }

  #stopSweeping(): void {
    if (this.#sweepTimer === undefined) return;
    clearInterval(this.#sweepTimer);
    this.#sweepTimer = undefined;
  }
}


function spend(entry: LeaseEntry, timestamp: number, cost: number, nowMs: number): Decision {
  entry.units -= cost;
  entry.spent += cost;
  entry.lastUsedMs = nowMs;
  const e = timestamp > entry.clock ? timestamp : entry.clock;
  entry.clock = e;
  return {
    allowed: true,
    limit: entry.limit,
    windowSeconds: entry.windowSeconds,
    // Unspent units are counted as used by the store but are this instance's to give: add them back.
    remaining: entry.storeRemaining + entry.units,
    retryAfter: 0,
    resetAfter: e === entry.at ? entry.resetAfter : (entry.resetAt - e) / 1000,
    timestamp: e / 1000,
    source: 'lease',
  };
}
