import { LRUCache } from 'lru-cache';
import type { ClientLimit, LeaseRelease, StoreCheckRequest } from '../types';
import { adjust, checkPolicies, PolicyState } from './policy-engine';
import type { ClientPolicyConfig, PolicyDefaults, PolicyStoreDecision, StoreSettleRequest, StoreSetPoliciesRequest, TierTable } from './policy-types';
import { effectivePolicies } from './policy-validation';
import { toMs } from '../time';

/** The policies that apply, with a load-adaptive factor applied to each limit. */
export function scaledPolicies(config: ClientPolicyConfig | undefined, defaults: PolicyDefaults, limitFactor: number): ClientLimit[] {
  const policies = effectivePolicies(config, defaults);
  if (limitFactor === 1) return policies;
  return policies.map((p) => ({ limit: Math.floor(p.limit * limitFactor), windowSeconds: p.windowSeconds }));
}

function copyConfig(config: ClientPolicyConfig): ClientPolicyConfig {
  const copy: ClientPolicyConfig = {};
  if (config.tier !== undefined) copy.tier = config.tier;
  if (config.policies !== undefined) copy.policies = config.policies.map((p) => ({ ...p }));
  // Stored as in Redis: shadow only when on.
  if (config.shadow === true) copy.shadow = true;
  return copy;
}

/**
 * MemoryStore's policy mode: client configs, tiers and every client's policy state, in process.
 * Every call runs synchronously, so each is atomic per client.
 */
export class MemoryPolicies {
  readonly #now: () => number;
  readonly #configs = new Map<string, ClientPolicyConfig>();
  readonly #states: LRUCache<string, PolicyState>;
  #tiers: TierTable = {};
  readonly #tierListeners = new Set<() => void>();
  #sweepCursor: Iterator<string> | undefined;

  constructor(maxClients: number, now: () => number) {
    this.#now = now;
    this.#states = new LRUCache<string, PolicyState>({ maxSize: maxClients, sizeCalculation: () => 1 });
  }

  /** Forgets the client's counts (its config stays). */
  reset(clientId: string): void {
    this.#states.delete(clientId);
  }

  resetAll(): void {
    this.#states.clear();
  }

  get size(): number {
    return this.#states.size;
  }

  check(request: StoreCheckRequest, defaults: PolicyDefaults): PolicyStoreDecision {
    const config = this.#configs.get(request.clientId);
    const policies = scaledPolicies(config, defaults, request.limitFactor);
    const now = this.#now();
    const state = this.#state(request.clientId, now);
    if (request.release !== undefined) adjust(state, policies, request.release.at, -request.release.units, request.bucketMs);
    const decision = checkPolicies(state, {
      timestamp: request.timestamp ?? toMs(now),
      bucketMs: request.bucketMs,
      cost: request.cost,
      policies,
      extra: request.extra,
    });
    // At least W_ms + g of the longest window (g <= W).
    if (decision.allowed) state.expiresAt = now + 2 * longest(policies);
    if (config?.shadow === true) decision.shadow = true;
    return decision;
  }

  release(clientId: string, release: LeaseRelease, defaults: PolicyDefaults): void {
    this.#adjust(clientId, release.at, -release.units, defaults, 1);
  }

  settle(request: StoreSettleRequest): void {
    this.#adjust(request.clientId, request.at, request.units, request.defaults, request.limitFactor);
  }

  setPolicies(request: StoreSetPoliciesRequest): void {
    const config = copyConfig(request.config);
    if (Object.keys(config).length === 0) this.#configs.delete(request.clientId);
    else this.#configs.set(request.clientId, config);
  }

  getPolicies(clientId: string): ClientPolicyConfig | undefined {
    const config = this.#configs.get(clientId);
    return config === undefined ? undefined : copyConfig(config);
  }

  setTier(name: string, policies: ClientLimit[] | undefined): void {
    const tiers = { ...this.#tiers };
    if (policies === undefined) delete tiers[name];
    else tiers[name] = policies.map((p) => ({ ...p }));
    this.#tiers = tiers;
    for (const listener of this.#tierListeners) listener();
  }

  getTiers(): TierTable {
    return { ...this.#tiers };
  }

  onTierChange(listener: () => void): () => void {
    this.#tierListeners.add(listener);
    return () => this.#tierListeners.delete(listener);
  }

  /**
   * Drops expired clients, examining at most `budget` per call and resuming where the last call
   * stopped (as MemoryStore.sweep does for single-policy clients).
   */
  sweep(budget: number): void {
    const now = this.#now();
    const expired: string[] = [];
    let startedPass = false;
    for (let examined = 0; examined < budget; ) {
      if (this.#sweepCursor === undefined) {
        if (startedPass) break;
        this.#sweepCursor = this.#states.rkeys();
        startedPass = true;
      }
      const next = this.#sweepCursor.next();
      if (next.done === true) {
        this.#sweepCursor = undefined;
        continue;
      }
      examined++;
      const state = this.#states.peek(next.value);
      if (state !== undefined && state.expiresAt <= now) expired.push(next.value);
    }
    for (const clientId of expired) this.#states.delete(clientId);
  }

  close(): void {
    this.#tierListeners.clear();
    this.#sweepCursor = undefined;
  }

  #state(clientId: string, now: number): PolicyState {
    let state = this.#states.get(clientId);
    if (state === undefined || state.expiresAt <= now) {
      state = new PolicyState();
      this.#states.set(clientId, state);
    }
    return state;
  }

  #adjust(clientId: string, at: number, units: number, defaults: PolicyDefaults, limitFactor: number): void {
    const state = this.#states.get(clientId);
    if (state === undefined || state.expiresAt <= this.#now()) return;
    const policies = scaledPolicies(this.#configs.get(clientId), defaults, limitFactor);
    adjust(state, policies, at, units, defaults.bucketMs);
    state.expiresAt = Math.max(state.expiresAt, this.#now() + 2 * longest(policies));
  }
}

function longest(policies: readonly ClientLimit[]): number {
  return (policies[policies.length - 1] as ClientLimit).windowSeconds;
}
