import { performance } from 'node:perf_hooks';
import type { Decision, DecisionSource } from '../types';
import type { BreakerState, LimiterEvents } from './limiter-events';
import type { ParsedMetricsOptions } from './metrics-options';
import { bindPrometheus } from './prometheus';
import { RateHistory, type RatePoint } from './rate-history';
import { TopClients, type TopClient } from './top-clients';

/** Decision counters, indexed by `decisionIndex(allowed, source)`. */
export const DECISION_LABELS: readonly (readonly ['allowed' | 'denied', DecisionSource])[] = [
  ['allowed', 'store'],
  ['allowed', 'lease'],
  ['allowed', 'fallback'],
  ['denied', 'store'],
  ['denied', 'lease'],
  ['denied', 'fallback'],
  // A remembered denial (the denial cache) is never an allowance: one counter.
  ['denied', 'cache'],
];

/** Running totals since the limiter started; exporters read them, only `LimiterMetrics` writes them. */
export interface MetricTotals {
  /** One counter per entry of `DECISION_LABELS`, in its order. */
  readonly decisions: number[];
  readonly storeRoundTrips: Map<string, number>;
  readonly storeErrors: Map<string, number>;
  leaseGrants: number;
  leaseGrantedUnits: number;
  leaseReturnedUnits: number;
  configUpdates: number;
  breakerTransitions: number;
}

/** What the status page shows, as `statusSnapshot()` returns it (plain JSON). */
export interface MetricsSnapshot {
  name: string;
  /** Milliseconds since the Unix epoch when the snapshot was taken. */
  time: number;
  totals: { allowed: number; denied: number; bySource: Record<DecisionSource, { allowed: number; denied: number }> };
  /** Allowed and denied decisions per second, oldest first; the last point is the second in progress. */
  series: RatePoint[];
  /** The most limited clients of the last one to two `topClientsPeriodSeconds`. */
  topClients: TopClient[];
  breaker: BreakerState;
  adaptiveFactor: number;
  clientsTracked: number;
}

/**
 * Denials a second counted one by one for the most limited clients; past it they are sampled
 * (one in ceil(denials / this), weighted), which bounds the cost of a flood of denials.
 */
export const TOP_CLIENT_SAMPLES_PER_SECOND = 10_000;

/** Called with a sampled latency in seconds. */
export type LatencyObserver = (seconds: number) => void;

/**
 * Everything one limiter's metrics count. The decision path costs a few additions on plain
 * numbers (and, for about `latencySamplesPerSecond` decisions a second, a timing); Prometheus reads the
 * totals when it scrapes, and a one-second timer feeds the status page's history.
 */
export class LimiterMetrics implements LimiterEvents {
  readonly name: string;
  readonly totals: MetricTotals = {
    decisions: DECISION_LABELS.map(() => 0),
    storeRoundTrips: new Map(),
    storeErrors: new Map(),
    leaseGrants: 0,
    leaseGrantedUnits: 0,
    leaseReturnedUnits: 0,
    configUpdates: 0,
    breakerTransitions: 0,
  };
  #breaker: BreakerState = 'closed';
  #factor = 1;
  readonly #clientCounters = new Set<() => number>();
  readonly #samplesPerSecond: number;
  #sampleEvery = 1;
  #untilSample = 1;
  /** Decisions timed since the last tick; past the budget the rate halves at once, not a second later. */
  #sampledThisSecond = 0;
  #storeSampleEvery = 1;
  #untilStoreSample = 1;
  #storeTrips = 0;
  #decisionsAtTick = 0;
  #storeTripsAtTick = 0;
  #deniedEvery = 1;
  #untilDenied = 1;
  #deniedAtTick = 0;
  #decisionLatency: LatencyObserver | undefined;
  #storeLatency: ((operation: string, seconds: number) => void) | undefined;
  readonly #history: RateHistory;
  readonly #top: TopClients | undefined;
  readonly #topClients: number;
  readonly #now: () => number;
  #secondStart: number;
  readonly #timer: NodeJS.Timeout | undefined;
  readonly #unbind: (() => void) | undefined;

  /**
   * @param now wall clock in milliseconds (tests inject one)
   * @param timers false in tests that call `tick()` themselves
   */
  constructor(options: ParsedMetricsOptions, now: () => number = Date.now, timers = true) {
    this.name = options.name;
    this.#now = now;
    this.#samplesPerSecond = options.latencySamplesPerSecond;
    this.#history = new RateHistory(options.historySeconds);
    this.#topClients = options.topClients;
    this.#top = options.topClients > 0
      ? new TopClients(Math.max(100, 10 * options.topClients), options.topClientsPeriodSeconds * 1000, now)
      : undefined;
    this.#secondStart = now();
    if (options.prometheus) this.#unbind = bindPrometheus(this, options.registry);
    if (timers) {
      this.#timer = setInterval(() => this.tick(), 1000);
      this.#timer.unref();
    }
  }

  /** @internal Set by the Prometheus binding: where sampled latencies go. */
  setLatencyObservers(decision: LatencyObserver, store: (operation: string, seconds: number) => void): void {
    this.#decisionLatency = decision;
    this.#storeLatency = store;
  }

  /** Hot path: a start time for the decision about to be made, or -1 when this one is not timed. */
  startTimer(): number {
    if (--this.#untilSample > 0) return -1;
    if (++this.#sampledThisSecond >= this.#samplesPerSecond) {
      // Traffic outgrew this second's sampling rate (a fresh limiter times every decision): sample half as often.
      this.#sampleEvery *= 2;
      this.#sampledThisSecond = 0;
    }
    this.#untilSample = this.#sampleEvery;
    return this.#decisionLatency === undefined || this.#samplesPerSecond === 0 ? -1 : performance.now();
  }

  /** Hot path: counts one decision; `startedAt` comes from `startTimer()`. */
  decision(clientId: string, decision: Decision, startedAt: number): void {
    const source = decision.source;
    const index = source === 'cache' ? 6 : (decision.allowed ? 0 : 3) + (source === 'store' ? 0 : source === 'lease' ? 1 : 2);
    this.totals.decisions[index]!++;
    if (!decision.allowed && this.#top !== undefined && --this.#untilDenied <= 0) {
      this.#untilDenied = this.#deniedEvery;
      this.#top.add(clientId, this.#deniedEvery);
    }
    if (startedAt >= 0) this.#decisionLatency?.((performance.now() - startedAt) / 1000);
  }

  storeRoundTrip(operation: string, seconds: number): void {
    const map = this.totals.storeRoundTrips;
    map.set(operation, (map.get(operation) ?? 0) + 1);
    this.#storeTrips++;
    if (--this.#untilStoreSample > 0) return;
    this.#untilStoreSample = this.#storeSampleEvery;
    if (this.#storeLatency !== undefined && this.#samplesPerSecond > 0) this.#storeLatency(operation, seconds);
  }

  storeError(code: string): void {
    const map = this.totals.storeErrors;
    map.set(code, (map.get(code) ?? 0) + 1);
  }

  leaseGranted(units: number): void {
    this.totals.leaseGrants++;
    this.totals.leaseGrantedUnits += units;
  }

  leaseReturned(units: number): void {
    this.totals.leaseReturnedUnits += units;
  }

  breakerState(state: BreakerState): void {
    if (state !== this.#breaker) this.totals.breakerTransitions++;
    this.#breaker = state;
  }

  configUpdated(): void {
    this.totals.configUpdates++;
  }

  adaptiveFactor(factor: number): void {
    this.#factor = factor;
  }

  trackClients(count: () => number): () => void {
    this.#clientCounters.add(count);
    return () => this.#clientCounters.delete(count);
  }

  get breaker(): BreakerState {
    return this.#breaker;
  }

  get factor(): number {
    return this.#factor;
  }

  /** Clients held in this process now, summed over every registered counter. */
  clientsTracked(): number {
    let total = 0;
    for (const count of this.#clientCounters) total += count();
    return total;
  }

  /** Closes the second of history in progress; called every second by the metrics timer. */
  tick(): void {
    const d = this.totals.decisions;
    const allowed = d[0]! + d[1]! + d[2]!;
    const denied = d[3]! + d[4]! + d[5]! + d[6]!;
    this.#history.record(this.#secondStart, allowed, denied, this.#factor);
    // Sampling for the next second, from this one's traffic: about samplesPerSecond timed.
    const perSecond = this.#samplesPerSecond || 1;
    this.#sampleEvery = Math.max(1, Math.ceil((allowed + denied - this.#decisionsAtTick) / perSecond));
    this.#storeSampleEvery = Math.max(1, Math.ceil((this.#storeTrips - this.#storeTripsAtTick) / perSecond));
    this.#untilSample = Math.min(this.#untilSample, this.#sampleEvery);
    this.#sampledThisSecond = 0;
    this.#untilStoreSample = Math.min(this.#untilStoreSample, this.#storeSampleEvery);
    this.#decisionsAtTick = allowed + denied;
    // A flood of denials is sampled for the most-limited list too: its counts become estimates.
    this.#deniedEvery = Math.max(1, Math.ceil((denied - this.#deniedAtTick) / TOP_CLIENT_SAMPLES_PER_SECOND));
    this.#untilDenied = Math.min(this.#untilDenied, this.#deniedEvery);
    this.#deniedAtTick = denied;
    this.#storeTripsAtTick = this.#storeTrips;
    this.#secondStart = this.#now();
    this.#top?.rotate();
  }

  snapshot(): MetricsSnapshot {
    const d = this.totals.decisions;
    const allowed = d[0]! + d[1]! + d[2]!;
    const denied = d[3]! + d[4]! + d[5]! + d[6]!;
    return {
      name: this.name,
      time: this.#now(),
      totals: {
        allowed,
        denied,
        bySource: {
          store: { allowed: d[0]!, denied: d[3]! },
          lease: { allowed: d[1]!, denied: d[4]! },
          cache: { allowed: 0, denied: d[6]! },
          fallback: { allowed: d[2]!, denied: d[5]! },
        },
      },
      series: this.#history.points(this.#secondStart, allowed, denied, this.#factor),
      topClients: this.#top === undefined ? [] : this.#top.top(this.#topClients),
      breaker: this.#breaker,
      adaptiveFactor: this.#factor,
      clientsTracked: this.clientsTracked(),
    };
  }

  /** Stops the timer and leaves the registry (counters keep their values there; gauges go). */
  close(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#unbind?.();
  }
}
