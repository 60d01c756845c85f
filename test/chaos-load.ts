import { once } from 'node:events';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { expect } from 'chai';
import type { Cluster, Redis } from 'ioredis';
import { CircuitBreaker, RateLimiter, RedisStore, type Decision, type RateLimiterOptions, type ResilientStore, type StoreError } from '@slidegate/core';

/** One answered check of the load. */
export interface LoadRecord {
  clientId: string;
  /** Date.now() when the check was issued. */
  at: number;
  latencyMs: number;
  decision: Decision;
}

export interface ChaosLoadOptions {
  clients: readonly string[];
  /** Checks issued per tick (one per client in turn). @default 4 */
  perTick?: number;
  /** Milliseconds between ticks. @default 5 */
  intervalMs?: number;
  /** Hard bounds: the load stops by itself after this many checks or milliseconds. */
  maxChecks?: number;
  maxMs?: number;
}

/**
 * A bounded load that runs throughout a chaos scenario: `perTick` checks every `intervalMs`,
 * recording each decision and its latency, and every rejection (there must be none).
 */
export class ChaosLoad {
  readonly records: LoadRecord[] = [];
  readonly rejections: unknown[] = [];
  readonly #limiter: RateLimiter;
  readonly #options: Required<ChaosLoadOptions>;
  #timer: NodeJS.Timeout | undefined;
  #issued = 0;
  #startedAt = 0;
  readonly #inFlight = new Set<Promise<void>>();
  readonly #loopDelay = monitorEventLoopDelay({ resolution: 10 });

  constructor(limiter: RateLimiter, options: ChaosLoadOptions) {
    this.#limiter = limiter;
    this.#options = { perTick: 4, intervalMs: 5, maxChecks: 20_000, maxMs: 30_000, ...options };
  }

  start(): void {
    this.#loopDelay.enable();
    this.#startedAt = Date.now();
    this.#timer = setInterval(() => this.#tick(), this.#options.intervalMs);
  }

  /** Stops issuing and waits for every check in flight. */
  async stop(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    await Promise.all([...this.#inFlight]);
    this.#loopDelay.disable();
  }

  /** The slowest decision and the worst event-loop stall seen, to tell a slow store path from a starved process. */
  describeSlowest(): string {
    const slowest = this.records.reduce<LoadRecord | undefined>((worst, r) => (worst === undefined || r.latencyMs > worst.latencyMs ? r : worst), undefined);
    const stallMs = this.#loopDelay.max / 1e6;
    return slowest === undefined
      ? 'no decisions'
      : `slowest: ${slowest.latencyMs.toFixed(1)} ms (${slowest.decision.source}, ${slowest.at - this.#startedAt} ms into the load); worst event-loop stall ${stallMs.toFixed(1)} ms`;
  }

  /** Checks in flight right now. */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  /** Records issued at or after `since` (ms). */
  since(since: number): LoadRecord[] {
    return this.records.filter((r) => r.at >= since);
  }

  /** Latency of the slowest decision. */
  get maxLatencyMs(): number {
    return this.records.reduce((max, r) => Math.max(max, r.latencyMs), 0);
  }

  /** Issue time of the first store decision issued at or after `since`, or undefined. */
  firstStoreDecisionAfter(since: number): number | undefined {
    return this.records.find((r) => r.at >= since && r.decision.source === 'store')?.at;
  }

  count(filter: (r: LoadRecord) => boolean): number {
    return this.records.filter(filter).length;
  }

  #tick(): void {
    const { clients, perTick, maxChecks, maxMs } = this.#options;
    if (this.#issued >= maxChecks || Date.now() - this.#startedAt > maxMs) {
      if (this.#timer !== undefined) clearInterval(this.#timer);
      this.#timer = undefined;
      return;
    }
    for (let i = 0; i < perTick; i++) {
      const clientId = clients[this.#issued++ % clients.length] as string;
      const at = Date.now();
      const started = performance.now();
      const p: Promise<void> = this.#limiter.check(clientId).then(
        (decision) => {
          this.records.push({ clientId, at, latencyMs: performance.now() - started, decision });
        },
        (error: unknown) => {
          this.rejections.push(error);
        },
      );
      this.#inFlight.add(p);
      void p.finally(() => this.#inFlight.delete(p));
    }
  }
}

/** Counts unhandled rejections while installed. */
export class UnhandledRejections {
  readonly reasons: unknown[] = [];
  readonly #listener = (reason: unknown): void => {
    this.reasons.push(reason);
  };

  install(): this {
    process.on('unhandledRejection', this.#listener);
    return this;
  }

  uninstall(): void {
    process.off('unhandledRejection', this.#listener);
  }
}

/** Allowed units per client among the records that match `filter`. */
export function allowedUnitsByClient(records: readonly LoadRecord[], filter: (r: LoadRecord) => boolean): Map<string, number> {
  const units = new Map<string, number>();
  for (const r of records) {
    if (r.decision.allowed && filter(r)) units.set(r.clientId, (units.get(r.clientId) ?? 0) + 1);
  }
  return units;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `predicate` every 20 ms until it holds or `timeoutMs` passes; returns whether it held. */
export async function eventually(predicate: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await predicate()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(20);
  }
}

// ---- A limiter over RedisStore with a load, and the SPEC's Faults invariants, for every chaos file.

export const LIMIT = 1000;
export const VIP_LIMIT = 7;
export const WINDOW = 60;
/** Makes the local share visible: ceil(L / 2). */
export const INSTANCES = 2;
export const CLIENTS = ['vip', 'a', 'b', 'c'] as const;
export const DECISION_DEADLINE_MS = 250;
export const RECOVERY_MS = 5000;

export interface Rig {
  client: Redis | Cluster;
  store: RedisStore;
  limiter: RateLimiter;
  resilient: ResilientStore;
  breakerEvents: string[];
  errors: StoreError[];
  load: ChaosLoad;
}

/**
 * A RateLimiter over a RedisStore on `client` with the default timeout and breaker (only
 * `instances: 2` is set) and a bounded load of 4 checks every 5 ms over `CLIENTS`.
 */
export function makeRig(client: Redis | Cluster, label: string, extra: Partial<RateLimiterOptions> = {}): Rig {
  client.on('error', () => undefined); // connection errors surface as failed commands
  const store = new RedisStore({ client, prefix: `chaos:${label}:${process.pid}:${Date.now().toString(36)}:` });
  const breaker = new CircuitBreaker();
  const breakerEvents: string[] = [];
  breaker.on('open', (e: { reason: string }) => breakerEvents.push(`open:${e.reason}`));
  breaker.on('halfOpen', () => breakerEvents.push('halfOpen'));
  breaker.on('close', () => breakerEvents.push('close'));
  const errors: StoreError[] = [];
  // The store's own decisions unless a test asks for leases: the accounting below counts store decisions, and
  // leases and the denial cache (on by default on RedisStore) are tested on their own.
  const limiter = new RateLimiter({ limit: LIMIT, windowSeconds: WINDOW, store, breaker, instances: INSTANCES, onError: (e) => errors.push(e), lease: false, denialCache: false, ...extra });
  const resilient = limiter.resilientStore;
  if (resilient === undefined) throw new Error('a RedisStore must be wrapped in a ResilientStore');
  const load = new ChaosLoad(limiter, { clients: CLIENTS, perTick: 4, intervalMs: 5, maxChecks: 10_000, maxMs: 20_000 });
  return { client, store, limiter, resilient, breakerEvents, errors, load };
}

/** Closes the rig; `closeClient` for a client that is not ioredis (node-redis closes its own way). */
export async function closeRig(rig: Rig | undefined, closeClient?: () => Promise<void>): Promise<void> {
  if (rig === undefined) return;
  await rig.load.stop();
  await rig.limiter.close();
  await rig.store.close();
  if (closeClient !== undefined) await closeClient();
  else rig.client.disconnect();
}

/** With enableOfflineQueue off, commands sent before the connection is ready fail at once: wait for it. */
export async function ready(client: Redis | Cluster): Promise<void> {
  if (client.status !== 'ready') await once(client, 'ready');
}

/** Waits (bounded) for the first store decision issued at or after `since`; false if none came. */
export function storeDecisionAfter(rig: Rig, since: number): Promise<boolean> {
  return eventually(() => rig.load.firstStoreDecisionAfter(since) !== undefined, RECOVERY_MS + 500);
}

/**
 * The SPEC's Faults invariants over everything the load saw: no unhandled rejection, no rejected
 * check, every decision within 250 ms, fallback decisions within the local share of the configured
 * limit, the shared window never above the limit, a store decision within 5 s of `recoveredAt`,
 * and the configured limit in force afterwards.
 */
export function expectFaultInvariants(
  rig: Rig,
  unhandled: UnhandledRejections,
  recoveredAt: number,
  vipLimitDuringFault = VIP_LIMIT,
  vipLimitSetAt = Infinity,
): void {
  const { load } = rig;
  expect(unhandled.reasons, 'unhandled rejections').to.deep.equal([]);
  expect(load.rejections, 'checks that rejected instead of deciding').to.deep.equal([]);
  expect(load.records.length, 'decisions made').to.be.greaterThan(200);
  expect(load.maxLatencyMs, `slowest decision (ms); ${load.describeSlowest()}`).to.be.lessThan(DECISION_DEADLINE_MS);
  const fallback = load.records.filter((r) => r.decision.source === 'fallback');
  expect(fallback.length, 'fallback decisions (the fault must have been felt)').to.be.greaterThan(0);
  for (const r of fallback) {
    const share = (limit: number) => Math.ceil(limit / INSTANCES);
    if (r.clientId !== 'vip') expect(r.decision.limit).to.equal(share(LIMIT));
    // A check issued once vip's own limit was being stored may fall back (a timeout under load) with either limit.
    else if (r.at >= vipLimitSetAt) expect(r.decision.limit).to.be.oneOf([share(vipLimitDuringFault), share(VIP_LIMIT)]);
    else expect(r.decision.limit).to.equal(share(vipLimitDuringFault));
  }
  const fallbackAllowed = allowedUnitsByClient(load.records, (r) => r.decision.source === 'fallback');
  expect(fallbackAllowed.get('vip') ?? 0).to.be.at.most(Math.ceil(vipLimitDuringFault / INSTANCES));
  for (const clientId of ['a', 'b', 'c']) expect(fallbackAllowed.get(clientId) ?? 0).to.be.at.most(Math.ceil(LIMIT / INSTANCES));
  // The whole test is inside one window: the shared store never admits more than the limit.
  const sharedAllowed = allowedUnitsByClient(load.records, (r) => r.decision.source !== 'fallback');
  if (vipLimitDuringFault === VIP_LIMIT) expect(sharedAllowed.get('vip') ?? 0, 'vip admitted by the store and its leases').to.be.at.most(VIP_LIMIT);
  const back = load.firstStoreDecisionAfter(recoveredAt);
  expect(back, 'a store decision after recovery').to.not.equal(undefined);
  expect((back as number) - recoveredAt, 'ms from recovery to the first store decision').to.be.at.most(RECOVERY_MS);
  const lastVipFromStore = [...load.records].reverse().find((r) => r.clientId === 'vip' && r.decision.source === 'store');
  expect(lastVipFromStore?.decision.limit, 'the configured limit after recovery').to.equal(VIP_LIMIT);
  if (process.env.CHAOS_VERBOSE) {
    console.log(
      `      [chaos] decisions=${load.records.length} fallback=${fallback.length} ${load.describeSlowest()} ` +
        `recovery=${(back as number) - recoveredAt}ms late=${JSON.stringify(rig.resilient.late)} breaker=${rig.breakerEvents.join(',')} ` +
        `errors=${[...new Set(rig.errors.map((e) => e.message.slice(0, 160)))].join(' | ')}`,
    );
  }
}

/**
 * The client's limit as the limiter reads it once the store answers again: the breaker may have
 * reopened for a moment after recovery (an fsync-always server on a busy disk can exceed the
 * 50 ms timeout), and a read during that moment fails fast by design. Bounded: 5 s.
 */
export async function limitAfterRecovery(rig: Rig, clientId: string): Promise<unknown> {
  let last: unknown;
  for (let i = 0; i < 50; i++) {
    try {
      return await rig.limiter.getLimit(clientId);
    } catch (error) {
      last = error;
      await sleep(100);
    }
  }
  throw last;
}

/** Units the store holds for `clientId` in the current window (one extra check reads it). */
export async function recordedUnits(store: RedisStore, clientId: string, limit: number): Promise<number> {
  const d = await store.check({
    clientId,
    // A store request takes whole ms.
    timestamp: Date.now(),
    cost: 1,
    defaults: { limit: LIMIT, windowSeconds: WINDOW },
    algorithm: 'sliding-window',
    bucketMs: undefined,
    extra: 0,
    limitFactor: 1,
  });
  return limit - d.remaining - (d.allowed ? 1 : 0);
}
