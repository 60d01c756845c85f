/**
 * Several policies per client, store call for store call: random sequences of checks (late ones,
 * lease grants with `extra`, lease releases, limit factors), settles (charges and refunds), lease
 * releases, client configs (own policies, tiers, shadow) and tier changes. MemoryStore must decide
 * exactly as the reference model (test/support/policy-model.ts), and a RedisStore exactly as
 * MemoryStore, field by field. Registered by policy-memory.test.ts (model only), and for Redis by
 * policy-redis.test.ts (standalone) and policy-cluster.test.ts (Cluster).
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { MemoryStore } from '../src/stores/memory-store';
import { makePolicyDefaults } from '../src/policies/policy-validation';
import type { PolicyStore, PolicyStoreDecision, TierTable } from '../src/policies/policy-types';
import type { ClientLimit, Store, StoreCheckRequest } from '../src/types';
import { PolicyModel, type ModelConfig, type ModelPolicyDecision } from './support/policy-model';

/** Windows of 1 s are left out: Redis TTLs run on real time (the longest window of a client sets them). */
export const POLICY_WINDOWS = [2, 3, 5, 10, 60, 3600, 86_400];
const CLIENTS = ['a', 'b{x}:c', 'c'];
const TIER_NAMES = ['free', 'pro'];

const policiesArb = fc
  .uniqueArray(fc.constantFrom(...POLICY_WINDOWS), { minLength: 1, maxLength: 3 })
  .chain((windows) => fc.tuple(...windows.map((w) => fc.record({ limit: fc.integer({ min: 0, max: 12 }), windowSeconds: fc.constant(w) }))))
  .map((list) => [...list].sort((a, b) => a.windowSeconds - b.windowSeconds));

const configArb: fc.Arbitrary<ModelConfig> = fc.record(
  { tier: fc.constantFrom(...TIER_NAMES, 'unknown'), policies: policiesArb, shadow: fc.boolean() },
  { requiredKeys: [] },
);

export type PolicyOp =
  | { kind: 'check'; client: number; advance: number; late: number; cost: number; extra: number; factor: number; release: { back: number; units: number } | null }
  | { kind: 'settle'; client: number; back: number; units: number }
  | { kind: 'release'; client: number; back: number; units: number }
  | { kind: 'config'; client: number; config: ModelConfig }
  | { kind: 'tier'; name: string; policies: ClientLimit[] | null };

const opArb: fc.Arbitrary<PolicyOp> = fc.oneof(
  {
    weight: 10,
    arbitrary: fc.record({
      kind: fc.constant('check' as const),
      client: fc.nat(CLIENTS.length - 1),
      // Times in ms: within a bucket, across bucket and second boundaries, and whole windows.
      advance: fc.oneof(
        fc.constantFrom(0, 0, 1, 16, 17, 250, 999, 1000, 2000, 3000),
        fc.nat(12_000),
        fc.constantFrom(59_000, 59_999, 60_000, 61_000, 3_599_000, 3_600_000, 3_601_000, 86_400_000),
      ),
      late: fc.oneof(fc.constant(0), fc.constant(0), fc.nat(8000)),
      cost: fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 6 })),
      extra: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 5 })),
      factor: fc.constantFrom(1, 1, 1, 0.5, 1.5),
      release: fc.option(fc.record({ back: fc.nat(6000), units: fc.integer({ min: 1, max: 4 }) }), { freq: 4 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('settle' as const),
      client: fc.nat(CLIENTS.length - 1),
      back: fc.nat(6000),
      units: fc.integer({ min: -5, max: 8 }).filter((u) => u !== 0),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('release' as const), client: fc.nat(CLIENTS.length - 1), back: fc.nat(6000), units: fc.integer({ min: 1, max: 4 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('config' as const), client: fc.nat(CLIENTS.length - 1), config: configArb }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('tier' as const), name: fc.constantFrom(...TIER_NAMES), policies: fc.option(policiesArb, { freq: 4 }) }) },
);

export const policyScenarioArb = fc.record({
  defaults: policiesArb,
  /** The limiter's bucketMs: default buckets, exact to the ms, or a width that straddles seconds. */
  bucketMs: fc.constantFrom(undefined, undefined, 1, 250),
  tiers: fc.record({ free: policiesArb, pro: policiesArb }),
  start: fc.integer({ min: 0, max: 2_000_000_000 }).map((seconds) => seconds * 1000),
  ops: fc.array(opArb, { minLength: 1, maxLength: 40 }),
});

export type PolicyScenario = typeof policyScenarioArb extends fc.Arbitrary<infer T> ? T : never;

/** The fields the model defines, from a store decision. */
function modelView(d: PolicyStoreDecision): ModelPolicyDecision {
  return {
    allowed: d.allowed,
    timestamp: d.timestamp,
    granted: d.granted,
    retryAfter: d.retryAfter,
    policies: d.policies,
    policy: d.policy,
  };
}

/**
 * Runs one scenario on MemoryStore and the model (and on `redis` when given), comparing every
 * answer. The binding policy's fields must also equal the top-level decision's.
 */
export async function runPolicyScenario(scenario: PolicyScenario, salt: string, redis?: Store & PolicyStore): Promise<void> {
  const memory = new MemoryStore({ now: () => 0, sweepIntervalMs: 0 });
  const model = new PolicyModel(scenario.defaults, { ...scenario.tiers }, scenario.bucketMs);
  let tiers: TierTable = { ...scenario.tiers };
  let defaults = makePolicyDefaults(scenario.defaults, tiers, scenario.bucketMs);
  let now = scenario.start;
  const log: string[] = [];
  try {
    for (const op of scenario.ops) {
      log.push(JSON.stringify(op));
      const where = (): string => `step ${log.length}:\n${log.join('\n')}`;
      if (op.kind === 'tier') {
        tiers = { ...tiers };
        if (op.policies === null) delete tiers[op.name];
        else tiers[op.name] = op.policies;
        model.tiers = { ...tiers };
        defaults = makePolicyDefaults(scenario.defaults, tiers, scenario.bucketMs);
        continue;
      }
      const clientId = `${salt}${CLIENTS[op.client] as string}`;
      if (op.kind === 'config') {
        const request = { clientId, config: op.config };
        await memory.setPolicies(request);
        await redis?.setPolicies(request);
        model.setConfig(clientId, op.config);
        expect(await redis?.getPolicies(clientId), where()).to.deep.equal(redis === undefined ? undefined : await memory.getPolicies(clientId));
      } else if (op.kind === 'settle') {
        const request = { clientId, at: Math.max(0, now - op.back), units: op.units, defaults, limitFactor: 1 };
        await memory.settle(request);
        await redis?.settle(request);
        model.adjust(clientId, request.at, op.units);
      } else if (op.kind === 'release') {
        const release = { at: Math.max(0, now - op.back), units: op.units };
        await memory.release(clientId, 'sliding-window', release, defaults);
        await redis?.release(clientId, 'sliding-window', release, defaults);
        model.adjust(clientId, release.at, -op.units);
      } else {
        now += op.advance;
        const request: StoreCheckRequest = {
          clientId,
          timestamp: Math.max(0, now - op.late),
          cost: op.cost,
          defaults,
          algorithm: 'sliding-window',
          bucketMs: scenario.bucketMs,
          extra: op.extra,
          release: op.release === null ? undefined : { at: Math.max(0, now - op.release.back), units: op.release.units },
          limitFactor: op.factor,
        };
        const fromMemory = (await memory.check(request)) as PolicyStoreDecision;
        const expected = model.check(clientId, request.timestamp as number, op.cost, { extra: op.extra, factor: op.factor, release: request.release });
        expect(modelView(fromMemory), `memory vs model, ${where()}`).to.deep.equal(expected);
        expect(fromMemory.shadow === true, 'shadow flag').to.equal(model.shadowOf(clientId));
        const binding = fromMemory.policies.find((p) => p.windowSeconds === fromMemory.windowSeconds);
        expect(binding, 'the binding policy is one of the policies').to.not.equal(undefined);
        expect([fromMemory.limit, fromMemory.remaining, fromMemory.resetAfter]).to.deep.equal([binding?.limit, binding?.remaining, binding?.resetAfter]);
        if (redis !== undefined) expect(await redis.check(request), `redis vs memory, ${where()}`).to.deep.equal(fromMemory);
      }
    }
  } finally {
    await memory.close();
  }
}
