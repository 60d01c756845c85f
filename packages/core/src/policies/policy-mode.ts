import { ErrorCodes, rangeError, typeError } from '../errors';
import type { ClientLimit, Decision } from '../types';
import { checkLimit, checkTimestamp, describe } from '../validate';
import { toMs } from '../time';
import type { ClientPolicyConfig, PolicyDecision, PolicyDefaults, PolicyStore, Reservation, TierTable } from './policy-types';
import { checkPolicies, checkPolicyConfig, checkTierName, effectivePolicies, makePolicyDefaults, MAX_POLICIES, serializeTiers } from './policy-validation';

/** What `RateLimiter.getPolicies` answers. */
export interface ClientPolicies {
  /** The policies that apply (before any load-adaptive factor), shortest window first. */
  policies: ClientLimit[];
  /** The client's tier, when it has one. */
  tier?: string;
  /** The client's own policies, when it has some. */
  own?: ClientLimit[];
  /** True when the client is in shadow mode by its own config. */
  shadow: boolean;
}

export interface PolicyModeOptions {
  store: PolicyStore;
  policies: ClientLimit[];
  tiers: TierTable;
  /** The limiter's `bucketMs` option. */
  bucketMs: number | undefined;
  /** Called after the tier table changed (leases drop what they hold). */
  onTiersChanged: () => void;
}

/**
 * The limiter's policy mode: the default policies and the tier table every request carries (as
 * `PolicyDefaults`), kept in step with the tiers stored on the store, plus the config, tier and
 * settle calls. Tiers live in two places: the limiter's `tiers` option (this instance's start-up
 * definitions) and the store (`setTier`, shared by every instance and announced to each, which
 * reloads at once). A stored tier wins over an option tier of the same name.
 */
export class PolicyMode {
  readonly defaults: PolicyDefaults;
  readonly #store: PolicyStore;
  readonly #optionTiers: TierTable;
  readonly #onTiersChanged: () => void;
  readonly #unsubscribe: () => void;
  /** Bumped per reload, so that a slow reload never overwrites a newer one. */
  #reloads = 0;
  #applied = 0;
  /** Reservations settled through this limiter: a second settle would charge or refund twice. */
  readonly #settled = new WeakSet<Reservation>();

  constructor(options: PolicyModeOptions) {
    this.#store = options.store;
    this.#optionTiers = options.tiers;
    this.#onTiersChanged = options.onTiersChanged;
    this.defaults = makePolicyDefaults(options.policies, options.tiers, options.bucketMs);
    this.#unsubscribe = this.#store.onTierChange(() => void this.reloadTiers().catch(() => undefined));
  }

  /** Reads the stored tiers and applies them over the option tiers. */
  async reloadTiers(): Promise<void> {
    const reload = ++this.#reloads;
    const stored = await this.#store.getTiers();
    if (reload < this.#applied) return;
    this.#applied = reload;
    const tiers: TierTable = { ...this.#optionTiers, ...stored };
    const tierArg = serializeTiers(tiers);
    if (tierArg === this.defaults.tierArg) return;
    this.defaults.tiers = tiers;
    this.defaults.tierArg = tierArg;
    this.#onTiersChanged();
  }

  async setTier(name: unknown, policies: unknown): Promise<void> {
    const tier = checkTierName(name, 'tier name');
    const checked = policies === undefined ? undefined : checkPolicies(policies, 'tier policies');
    await this.#store.setTier(tier, checked);
    await this.reloadTiers();
  }

  /** Validates a config (an array is `{ policies }`), including its size with its tier's policies. */
  config(value: unknown): ClientPolicyConfig {
    const config = Array.isArray(value) ? { policies: checkPolicies(value, 'policies') } : checkPolicyConfig(value, 'policies');
    const count = effectivePolicies(config, this.defaults).length;
    if (count > MAX_POLICIES) {
      throw rangeError(ErrorCodes.INVALID_ARGUMENT, `slidegate: policies with tier ${describe(config.tier)} would give ${count} policies; at most ${MAX_POLICIES} are allowed`);
    }
    return config;
  }

  setPolicies(clientId: string, config: ClientPolicyConfig): Promise<void> {
    return this.#store.setPolicies({ clientId, config });
  }

  async getPolicies(clientId: string): Promise<ClientPolicies> {
    const config = await this.#store.getPolicies(clientId);
    const result: ClientPolicies = { policies: effectivePolicies(config, this.defaults).map((p) => ({ ...p })), shadow: config?.shadow === true };
    if (config?.tier !== undefined) result.tier = config.tier;
    if (config?.policies !== undefined) result.own = config.policies;
    return result;
  }

  /** Reservation from a check of `estimate` units. */
  reservation(clientId: string, estimate: number, decision: PolicyDecision): Reservation {
    // Units decided in fallback were never recorded in the store; a shadow would-be denial recorded nothing.
    const recorded = decision.allowed && decision.wouldAllow !== false && decision.source !== 'fallback';
    return Object.freeze({ clientId, at: decision.timestamp, estimate, recorded, decision });
  }

  async settle(reservation: Reservation, actualCost: number, limitFactor: number): Promise<number> {
    if (this.#settled.has(reservation)) {
      throw rangeError(ErrorCodes.INVALID_ARGUMENT, `slidegate: settle reservation of client ${describe(reservation.clientId)} at ${reservation.at} was already settled`);
    }
    this.#settled.add(reservation);
    const diff = actualCost - reservation.estimate;
    if (!reservation.recorded || diff === 0) return 0;
    await this.#store.settle({ clientId: reservation.clientId, at: toMs(reservation.at), units: diff, defaults: this.defaults, limitFactor });
    return diff;
  }

  close(): void {
    this.#unsubscribe();
  }
}

/** Fills `policy`/`policies` for decisions that did not come from the store's policy check (lease, fallback). */
export function asPolicyDecision(decision: Decision): PolicyDecision {
  const d = decision as PolicyDecision;
  if (d.policies !== undefined) return d;
  const policy = { limit: d.limit, windowSeconds: d.windowSeconds };
  return { ...d, policy, policies: [{ ...policy, remaining: d.remaining, resetAfter: d.resetAfter, allows: d.allowed }] };
}

export function checkReservation(value: unknown): Reservation {
  const r = value as Partial<Reservation> | null;
  if (typeof r !== 'object' || r === null || typeof r.clientId !== 'string' || typeof r.estimate !== 'number' || typeof r.recorded !== 'boolean') {
    throw typeError(ErrorCodes.INVALID_ARGUMENT, `slidegate: settle reservation must be what reserve() returned; got ${describe(value)}`);
  }
  checkTimestamp(r.at, 'settle reservation.at');
  return r as Reservation;
}

export function checkActualCost(value: unknown): number {
  return checkLimit(value, 'settle actualCost');
}
