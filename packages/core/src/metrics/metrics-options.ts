import { ErrorCodes, rangeError, typeError } from '../errors';
import { checkKnownKeys, checkPlainObject, describe } from '../validate';

/**
 * A prom-client `Registry` (typed structurally so that core's types do not require prom-client).
 * Anything with prom-client's `registerMetric` and `getSingleMetric` works.
 */
export interface MetricsRegistry {
  registerMetric(metric: never): void;
  getSingleMetric(name: string): unknown;
}

/** Options of `RateLimiterOptions.metrics`. */
export interface MetricsOptions {
  /**
   * Value of the `name` label on every `slidegate_*` series, so several limiters share a registry.
   * Two open limiters may not use one name on one registry.
   * @default 'default'
   */
  name?: string;
  /**
   * Export Prometheus metrics through prom-client (an optional peer dependency, loaded only now).
   * `false` keeps only the in-process figures behind `statusSnapshot()`.
   * @default true
   */
  prometheus?: boolean;
  /**
   * The prom-client registry to register the `slidegate_*` metrics on.
   * @default prom-client's global `register`
   */
  registry?: MetricsRegistry;
  /**
   * About how many decisions a second are timed for `slidegate_decision_duration_seconds` (and store
   * round trips for `slidegate_store_duration_seconds`); 0 times none. Every second the limiter sets
   * its sampling to one decision in ceil(last second's decisions / this), so a quiet service times
   * every decision and a busy one pays for a bounded number of clock reads and histogram updates
   * (each costs more than an in-memory decision). The quantiles stay unbiased; rates come from
   * `slidegate_decisions_total`, which counts every decision.
   * @default 1000
   */
  latencySamplesPerSecond?: number;
  /**
   * Seconds of per-second history kept for the status page, 10..3600.
   * @default 300
   */
  historySeconds?: number;
  /**
   * How many of the most limited clients the status snapshot lists (0 stops tracking them).
   * Tracked in bounded memory (Misra-Gries, 10 counters per row, at least 100).
   * @default 10
   */
  topClients?: number;
  /**
   * The most limited clients are counted over the last one to two periods of this many seconds.
   * @default 60
   */
  topClientsPeriodSeconds?: number;
}

/** `MetricsOptions` validated, defaults filled. */
export interface ParsedMetricsOptions {
  name: string;
  prometheus: boolean;
  registry: MetricsRegistry | undefined;
  latencySamplesPerSecond: number;
  historySeconds: number;
  topClients: number;
  topClientsPeriodSeconds: number;
}

export const DEFAULT_METRICS_NAME = 'default';
export const DEFAULT_LATENCY_SAMPLES_PER_SECOND = 1000;
export const DEFAULT_HISTORY_SECONDS = 300;
export const DEFAULT_TOP_CLIENTS = 10;
export const DEFAULT_TOP_CLIENTS_PERIOD_SECONDS = 60;
const KNOWN = ['name', 'prometheus', 'registry', 'latencySamplesPerSecond', 'historySeconds', 'topClients', 'topClientsPeriodSeconds'];
const OPTION = 'RateLimiter options.metrics';

/** `undefined`/`false`: metrics off. `true` or an object: on, with defaults filled. */
export function parseMetricsOptions(value: unknown): ParsedMetricsOptions | undefined {
  if (value === undefined || value === false) return undefined;
  const o = value === true ? {} : checkPlainObjectOrBoolean(value);
  checkKnownKeys(o, KNOWN, OPTION);
  const name = o.name ?? DEFAULT_METRICS_NAME;
  if (typeof name !== 'string' || name.length === 0 || name.length > 200) {
    throw (typeof name === 'string' ? rangeError : typeError)(
      ErrorCodes.INVALID_OPTION,
      `slidegate: ${OPTION}.name must be a string of 1 to 200 characters (the value of the 'name' label); got ${describe(name)}`,
    );
  }
  const prometheus = o.prometheus ?? true;
  if (typeof prometheus !== 'boolean') {
    throw typeError(ErrorCodes.INVALID_OPTION, `slidegate: ${OPTION}.prometheus must be a boolean; got ${describe(prometheus)}`);
  }
  const registry = o.registry;
  if (registry !== undefined) {
    const r = registry as Record<string, unknown>;
    if (typeof registry !== 'object' || registry === null || typeof r.registerMetric !== 'function' || typeof r.getSingleMetric !== 'function') {
      throw typeError(ErrorCodes.INVALID_OPTION, `slidegate: ${OPTION}.registry must be a prom-client Registry; got ${describe(registry)}`);
    }
  }
  return {
    name,
    prometheus,
    registry: registry as MetricsRegistry | undefined,
    latencySamplesPerSecond: integerIn(o.latencySamplesPerSecond ?? DEFAULT_LATENCY_SAMPLES_PER_SECOND, 'latencySamplesPerSecond', 0, 1_000_000),
    historySeconds: integerIn(o.historySeconds ?? DEFAULT_HISTORY_SECONDS, 'historySeconds', 10, 3600),
    topClients: integerIn(o.topClients ?? DEFAULT_TOP_CLIENTS, 'topClients', 0, 1000),
    topClientsPeriodSeconds: integerIn(o.topClientsPeriodSeconds ?? DEFAULT_TOP_CLIENTS_PERIOD_SECONDS, 'topClientsPeriodSeconds', 1, 86_400),
  };
}

function checkPlainObjectOrBoolean(value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw typeError(ErrorCodes.INVALID_OPTION, `slidegate: ${OPTION} must be a boolean or an object; got ${describe(value)}`);
  }
  return checkPlainObject(value, OPTION);
}

function integerIn(value: unknown, field: string, min: number, max: number): number {
  if (typeof value !== 'number') {
    throw typeError(ErrorCodes.INVALID_OPTION, `slidegate: ${OPTION}.${field} must be an integer from ${min} to ${max}; got ${describe(value)}`);
  }
  if (!Number.isInteger(value) || value < min || value > max) {
    throw rangeError(ErrorCodes.INVALID_OPTION, `slidegate: ${OPTION}.${field} must be an integer from ${min} to ${max}; got ${describe(value)}`);
  }
  return value;
}
