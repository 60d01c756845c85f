import type { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { ErrorCodes, rangeError, SlidegateError } from '../errors';
import { DECISION_LABELS, type LimiterMetrics } from './limiter-metrics';
import type { MetricsRegistry } from './metrics-options';

type PromClient = typeof import('prom-client');

/** Buckets from 10 µs (an in-process decision) to 250 ms (the SPEC's worst-case answer time). */
export const LATENCY_BUCKETS_SECONDS = [
  0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
];

/** The numeric values of `slidegate_breaker_state`. */
export const BREAKER_STATE_VALUES = { closed: 0, 'half-open': 1, open: 2 } as const;

let promClient: PromClient | undefined;

/**
 * Loads prom-client on first use only: it is an optional peer dependency. Not exported, so that no published
 * declaration names prom-client's types (a TypeScript user without it would get TS2307).
 */
function loadPromClient(): PromClient {
  if (promClient !== undefined) return promClient;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    promClient = require('prom-client') as PromClient;
  } catch (cause) {
    throw new SlidegateError(
      ErrorCodes.INVALID_OPTION,
      'slidegate: RateLimiter options.metrics needs the prom-client package (npm install prom-client), ' +
        'or set metrics.prometheus to false to keep only the status page figures',
      { cause },
    );
  }
  return promClient;
}

/** The `slidegate_*` metrics of one registry, shared by every limiter registered on it. */
class Families {
  readonly members = new Map<string, Member>();
  readonly decisions: Counter;
  readonly decisionDuration: Histogram;
  readonly storeRequests: Counter;
  readonly storeErrors: Counter;
  readonly storeDuration: Histogram;
  readonly leaseGrants: Counter;
  readonly leaseGrantedUnits: Counter;
  readonly leaseReturnedUnits: Counter;
  readonly breakerState: Gauge;
  readonly breakerTransitions: Counter;
  readonly configUpdates: Counter;
  readonly clientsTracked: Gauge;
  readonly adaptiveFactor: Gauge;

  constructor(prom: PromClient, registry: Registry) {
    // Every metric brings the running totals up to date when scraped; the decision path never calls prom-client.
    const collect = (): void => {
      for (const member of this.members.values()) member.flush();
    };
    const registers = [registry];
    const counter = (name: string, help: string, labelNames: string[]): Counter =>
      new prom.Counter({ name, help, labelNames, registers, collect });
    const gauge = (name: string, help: string): Gauge => new prom.Gauge({ name, help, labelNames: ['name'], registers, collect });
    this.decisions = counter('slidegate_decisions_total', 'Decisions made, by result (allowed, denied) and source (store, lease, cache, fallback).', [
      'name',
      'result',
      'source',
    ]);
    this.decisionDuration = new prom.Histogram({
      name: 'slidegate_decision_duration_seconds',
      help: 'Time from check() to its decision, for a sample of about metrics.latencySamplesPerSecond decisions a second.',
      labelNames: ['name'],
      buckets: LATENCY_BUCKETS_SECONDS,
      registers,
    });
    this.storeRequests = counter('slidegate_store_requests_total', 'Store round trips answered, by store operation.', ['name', 'operation']);
    this.storeErrors = counter('slidegate_store_errors_total', 'Store calls that failed or timed out, by error code.', ['name', 'code']);
    this.storeDuration = new prom.Histogram({
      name: 'slidegate_store_duration_seconds',
      help: 'Store round-trip time, for a sample of about metrics.latencySamplesPerSecond round trips a second.',
      labelNames: ['name', 'operation'],
      buckets: LATENCY_BUCKETS_SECONDS,
      registers,
    });
    this.leaseGrants = counter('slidegate_lease_grants_total', 'Lease grants received from the store.', ['name']);
    this.leaseGrantedUnits = counter('slidegate_lease_granted_units_total', 'Units leased from the store.', ['name']);
    this.leaseReturnedUnits = counter('slidegate_lease_returned_units_total', 'Unspent leased units returned to the store.', ['name']);
    this.breakerState = gauge('slidegate_breaker_state', 'State of the circuit breaker around the store: 0 closed, 1 half-open, 2 open.');
    this.breakerTransitions = counter('slidegate_breaker_transitions_total', 'Circuit breaker state changes.', ['name']);
    this.configUpdates = counter('slidegate_config_updates_total', 'Client limits changed through updateLimit() on this limiter.', ['name']);
    this.clientsTracked = gauge('slidegate_clients_tracked', 'Clients with state held in this process (local windows, leases, fallback windows); a store shared by several limiters is counted on the first of them, so a sum counts each client once.');
    this.adaptiveFactor = gauge('slidegate_adaptive_factor', 'The load-adaptive factor applied to every limit (1 when adaptive limits are off).');
  }

  /** True while the registry still holds these metrics (a `registry.clear()` drops them). */
  isCurrent(registry: Registry): boolean {
    return registry.getSingleMetric('slidegate_decisions_total') === this.decisions;
  }
}

/** One limiter's share of the families: what it has already pushed, so each scrape adds only the difference. */
class Member {
  readonly #metrics: LimiterMetrics;
  readonly #families: Families;
  readonly #pushedDecisions = DECISION_LABELS.map(() => 0);
  readonly #pushedRoundTrips = new Map<string, number>();
  readonly #pushedErrors = new Map<string, number>();
  #pushedLeaseGrants = 0;
  #pushedGrantedUnits = 0;
  #pushedReturnedUnits = 0;
  #pushedTransitions = 0;
  #pushedConfigUpdates = 0;

  constructor(metrics: LimiterMetrics, families: Families) {
    this.#metrics = metrics;
    this.#families = families;
    const name = metrics.name;
    // Series exist from the start at 0, so rate() and absent() behave in dashboards before traffic.
    for (const [result, source] of DECISION_LABELS) families.decisions.inc({ name, result, source }, 0);
    for (const c of [families.leaseGrants, families.leaseGrantedUnits, families.leaseReturnedUnits, families.breakerTransitions, families.configUpdates]) {
      c.inc({ name }, 0);
    }
    this.flush();
  }

  flush(): void {
    const f = this.#families;
    const t = this.#metrics.totals;
    const name = this.#metrics.name;
    for (let i = 0; i < DECISION_LABELS.length; i++) {
      const delta = t.decisions[i]! - this.#pushedDecisions[i]!;
      if (delta > 0) {
        const [result, source] = DECISION_LABELS[i]!;
        f.decisions.inc({ name, result, source }, delta);
        this.#pushedDecisions[i] = t.decisions[i]!;
      }
    }
    flushMap(f.storeRequests, name, 'operation', t.storeRoundTrips, this.#pushedRoundTrips);
    flushMap(f.storeErrors, name, 'code', t.storeErrors, this.#pushedErrors);
    this.#pushedLeaseGrants = push(f.leaseGrants, name, t.leaseGrants, this.#pushedLeaseGrants);
    this.#pushedGrantedUnits = push(f.leaseGrantedUnits, name, t.leaseGrantedUnits, this.#pushedGrantedUnits);
    this.#pushedReturnedUnits = push(f.leaseReturnedUnits, name, t.leaseReturnedUnits, this.#pushedReturnedUnits);
    this.#pushedTransitions = push(f.breakerTransitions, name, t.breakerTransitions, this.#pushedTransitions);
    this.#pushedConfigUpdates = push(f.configUpdates, name, t.configUpdates, this.#pushedConfigUpdates);
    f.breakerState.set({ name }, BREAKER_STATE_VALUES[this.#metrics.breaker]);
    f.clientsTracked.set({ name }, this.#metrics.clientsTracked());
    f.adaptiveFactor.set({ name }, this.#metrics.factor);
  }

  /** Last push, then the gauges of this name go (a closed limiter has no state); counters keep their totals. */
  leave(): void {
    this.flush();
    const name = this.#metrics.name;
    this.#families.breakerState.remove({ name });
    this.#families.clientsTracked.remove({ name });
    this.#families.adaptiveFactor.remove({ name });
  }
}

function push(counter: Counter, name: string, total: number, pushed: number): number {
  if (total > pushed) counter.inc({ name }, total - pushed);
  return total;
}

function flushMap(counter: Counter, name: string, label: string, totals: Map<string, number>, pushed: Map<string, number>): void {
  for (const [key, total] of totals) {
    const before = pushed.get(key) ?? 0;
    if (total > before) {
      counter.inc({ name, [label]: key }, total - before);
      pushed.set(key, total);
    }
  }
}

const FAMILIES = new WeakMap<object, Families>();

/**
 * Registers `metrics` on the registry (the global one by default) under its `name` label.
 * Returns the function that takes it off again.
 */
export function bindPrometheus(metrics: LimiterMetrics, userRegistry: MetricsRegistry | undefined): () => void {
  const prom = loadPromClient();
  const registry = (userRegistry ?? prom.register) as unknown as Registry;
  let families = FAMILIES.get(registry);
  if (families === undefined || !families.isCurrent(registry)) {
    if (registry.getSingleMetric('slidegate_decisions_total') !== undefined) {
      throw rangeError(
        ErrorCodes.INVALID_OPTION,
        'slidegate: RateLimiter options.metrics.registry already holds slidegate_decisions_total from another copy of ' +
          '@slidegate/core; load one copy, or give each copy its own registry',
      );
    }
    families = new Families(prom, registry);
    FAMILIES.set(registry, families);
  }
  if (families.members.has(metrics.name)) {
    throw rangeError(
      ErrorCodes.INVALID_OPTION,
      `slidegate: RateLimiter options.metrics.name ${JSON.stringify(metrics.name)} is already used by an open limiter on this ` +
        'registry; give each limiter its own name (it is the value of the name label)',
    );
  }
  const member = new Member(metrics, families);
  families.members.set(metrics.name, member);
  const durations = families.decisionDuration.labels({ name: metrics.name });
  const storeDuration = families.storeDuration;
  metrics.setLatencyObservers(
    (seconds) => durations.observe(seconds),
    (operation, seconds) => storeDuration.observe({ name: metrics.name, operation }, seconds),
  );
  const bound = families;
  return () => {
    if (bound.members.get(metrics.name) !== member) return;
    member.leave();
    bound.members.delete(metrics.name);
  };
}

/** `GET /metrics` for any framework: the registry's text and its content type. */
export async function renderMetrics(registry?: MetricsRegistry): Promise<{ contentType: string; body: string }> {
  const r = (registry ?? loadPromClient().register) as unknown as Registry;
  return { contentType: r.contentType, body: await r.metrics() };
}
