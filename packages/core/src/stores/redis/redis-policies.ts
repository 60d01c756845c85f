import { ErrorCodes, StoreError } from '../../errors';
import { policyDecision } from '../../policies/policy-engine';
import type {
  ClientPolicyConfig,
  PolicyDefaults,
  PolicyStatus,
  PolicyStoreDecision,
  StoreSettleRequest,
  StoreSetPoliciesRequest,
  TierTable,
} from '../../policies/policy-types';
import { parsePolicies, serializePolicies } from '../../policies/policy-validation';
import type { ClientLimit, StoreCheckRequest } from '../../types';
import { encodeClientId, KEY_SUFFIXES, limitsChannel } from './key-encoding';
import { LimitSubscription } from './limit-subscription';
import { POLICY_CHECK, SET_POLICIES, SET_TIER } from './policy-scripts';
import type { RedisClientAdapter } from './clients/adapter';
import { luaScript, type LuaScript } from './clients/lua-script';

const SCRIPTS = {
  check: luaScript('slidegatePolicyCheckV2', POLICY_CHECK, 2),
  setPolicies: luaScript('slidegateSetPoliciesV1', SET_POLICIES, 1),
  setTier: luaScript('slidegateSetTierV1', SET_TIER, 1),
} as const;
/** The policy meta key's suffix; the per-window keys (`pw2:<W>`) are named inside the script ('2': see KEY_SUFFIXES). */
export const POLICY_META_SUFFIX = 'pm2';

type Run = (script: LuaScript, args: (string | number)[]) => Promise<unknown>;

/**
 * RedisStore's policy mode: one EVALSHA of POLICY_CHECK per decision, lease release and settle;
 * client configs in the client's `cfg` hash; tiers in `{prefix}{tiers}`, announced on
 * `{prefix}tiers` so every instance reloads them at once.
 */
export class RedisPolicies {
  readonly #redis: RedisClientAdapter;
  readonly #prefix: string;
  readonly #run: Run;
  readonly #tierListeners = new Set<() => void>();
  #tierSubscription: LimitSubscription | undefined;
  #closed = false;

  constructor(redis: RedisClientAdapter, prefix: string, run: Run) {
    this.#redis = redis;
    this.#prefix = prefix;
    this.#run = run;
  }

  async check(tag: string, request: StoreCheckRequest, defaults: PolicyDefaults): Promise<PolicyStoreDecision> {
    const reply = await this.#run(SCRIPTS.check, [
      tag + KEY_SUFFIXES.config,
      tag + POLICY_META_SUFFIX,
      tag,
      request.timestamp === undefined ? '' : request.timestamp,
      request.cost,
      defaults.policyArg,
      defaults.tierArg,
      request.limitFactor,
      request.extra,
      request.release === undefined ? '' : request.release.at,
      request.release === undefined ? 0 : request.release.units,
      'check',
      request.bucketMs ?? 0,
    ]);
    return decodePolicyDecision(reply);
  }

  /** Adds (units > 0) or removes (units < 0) units at time `at` (ms), under the client's policies. */
  async adjust(tag: string, at: number, units: number, defaults: PolicyDefaults, limitFactor: number): Promise<void> {
    await this.#run(SCRIPTS.check, [
      tag + KEY_SUFFIXES.config,
      tag + POLICY_META_SUFFIX,
      tag,
      0,
      0,
      defaults.policyArg,
      defaults.tierArg,
      limitFactor,
      0,
      at,
      units,
      'adjust',
      defaults.bucketMs ?? 0,
    ]);
  }

  settle(tag: string, request: StoreSettleRequest): Promise<void> {
    return this.adjust(tag, request.at, request.units, request.defaults, request.limitFactor);
  }

  async setPolicies(tag: string, request: StoreSetPoliciesRequest): Promise<void> {
    const { config } = request;
    await this.#run(SCRIPTS.setPolicies, [
      tag + KEY_SUFFIXES.config,
      config.policies === undefined ? '' : serializePolicies(config.policies),
      config.tier ?? '',
      config.shadow === true ? '1' : '',
      limitsChannel(this.#prefix),
      encodeClientId(request.clientId),
    ]);
  }

  async getPolicies(tag: string): Promise<ClientPolicyConfig | undefined> {
    let reply: unknown;
    try {
      const key = tag + KEY_SUFFIXES.config;
      reply = await this.#redis.send(['HMGET', key, 'P', 'T', 'S'], { key });
    } catch (error) {
      throw new StoreError(`slidegate: RedisStore getPolicies failed: ${(error as Error).message}`, { cause: error });
    }
    const [policies, tier, shadow] = reply as (string | null)[];
    if (policies == null && tier == null && shadow == null) return undefined;
    const config: ClientPolicyConfig = {};
    if (tier != null) config.tier = tier;
    if (policies != null) config.policies = parsePolicies(policies);
    if (shadow != null) config.shadow = shadow === '1';
    return config;
  }

  async setTier(name: string, policies: ClientLimit[] | undefined): Promise<void> {
    await this.#run(SCRIPTS.setTier, [this.#tiersKey(), name, policies === undefined ? '' : serializePolicies(policies), this.#tiersChannel()]);
  }

  async getTiers(): Promise<TierTable> {
    let reply: Record<string, string>;
    try {
      const key = this.#tiersKey();
      reply = hashReply(await this.#redis.send(['HGETALL', key], { key }));
    } catch (error) {
      throw new StoreError(`slidegate: RedisStore getTiers failed: ${(error as Error).message}`, { cause: error });
    }
    const tiers: TierTable = {};
    for (const [name, text] of Object.entries(reply)) tiers[name] = parsePolicies(text);
    return tiers;
  }

  onTierChange(listener: () => void): () => void {
    if (this.#tierSubscription === undefined && !this.#closed) {
      const notify = (): void => {
        for (const l of this.#tierListeners) l();
      };
      this.#tierSubscription = new LimitSubscription(this.#redis, this.#tiersChannel(), {
        onMessage: notify,
        onDesync: () => undefined,
        // Changes may have been missed while disconnected: everyone reloads.
        onResync: notify,
      });
    }
    this.#tierListeners.add(listener);
    return () => this.#tierListeners.delete(listener);
  }

  close(): void {
    this.#closed = true;
    this.#tierSubscription?.close();
    this.#tierSubscription = undefined;
    this.#tierListeners.clear();
  }

  #tiersKey(): string {
    // No ':suffix', so this key can never equal a client's key (those always end in one).
    return `${this.#prefix}{tiers}`;
  }

  #tiersChannel(): string {
    return `${this.#prefix}tiers`;
  }
}

/** HGETALL's reply as an object: a flat [field, value, ...] list (RESP2), or already a map (RESP3 clients). */
function hashReply(reply: unknown): Record<string, string> {
  if (!Array.isArray(reply)) {
    if (reply instanceof Map) return Object.fromEntries(reply) as Record<string, string>;
    return (reply ?? {}) as Record<string, string>;
  }
  const hash: Record<string, string> = {};
  for (let i = 0; i + 1 < reply.length; i += 2) hash[String(reply[i])] = String(reply[i + 1]);
  return hash;
}

function decodePolicyDecision(reply: unknown): PolicyStoreDecision {
  const bad = (): StoreError =>
    new StoreError(`slidegate: RedisStore got an unexpected policy script reply: ${JSON.stringify(reply)}`, { code: ErrorCodes.STORE_BAD_REPLY });
  if (!Array.isArray(reply) || reply.length < 11 || !reply.every((v) => typeof v === 'number')) throw bad();
  const values: number[] = reply;
  const [allowed, e, granted, shadow, n] = values as [number, number, number, number, number];
  if (values.length !== 5 + 6 * n) throw bad();
  const statuses: PolicyStatus[] = [];
  const retries: number[] = [];
  for (let i = 0; i < n; i++) {
    const at = 5 + i * 6;
    statuses.push({
      limit: values[at] as number,
      windowSeconds: values[at + 1] as number,
      remaining: values[at + 2] as number,
      resetAfter: (values[at + 3] as number) / 1000,
      allows: values[at + 4] === 1,
    });
    const retry = values[at + 5] as number;
    retries.push(retry === -1 ? Infinity : retry / 1000);
  }
  // The script answers in ms; decisions carry seconds.
  const decision = policyDecision(allowed === 1, statuses, retries, e / 1000, granted);
  if (shadow === 1) decision.shadow = true;
  return decision;
}
