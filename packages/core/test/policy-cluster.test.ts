/**
 * Policy mode on a Redis Cluster (3 masters): the random-sequence equivalence with MemoryStore
 * (clients on several slots; every policy key of a client on its slot), and tiers and configs
 * reaching a second instance on its own Cluster connection within a second.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { startCluster, type RedisCluster } from '@slidegate/test-utils';
import type { Cluster } from 'ioredis';
import { RateLimiter } from '../src/index';
import { RedisStore } from '../src/stores/redis-store';
import type { PolicyDecision } from '../src/policies/policy-types';
import { policyScenarioArb, runPolicyScenario } from './policy-equivalence';
import { deleteKeys, uniquePrefix } from './redis-helpers';

describe('several policies per client on a Redis Cluster (3 masters)', function () {
  this.timeout(60_000);
  let cluster: RedisCluster | undefined;
  let client: Cluster;
  const prefix = uniquePrefix('policy-cluster');

  before(async () => {
    cluster = await startCluster();
    client = cluster.client();
  });

  after(async () => {
    if (client !== undefined) await deleteKeys(client, prefix);
    await cluster?.stop();
  });

  it('decides exactly as MemoryStore over random sequences', async () => {
    const store = new RedisStore({ client, prefix });
    let run = 0;
    try {
      await fc.assert(
        fc.asyncProperty(policyScenarioArb, async (scenario) => {
          await runPolicyScenario(scenario, `c${run++}:`, store);
        }),
        { numRuns: Number(process.env.SLIDEGATE_POLICY_CLUSTER_RUNS ?? 40) },
      );
    } finally {
      await store.close();
    }
  });

  it('puts every key of a client on its slot, and a tier change reaches another instance within 1 s', async () => {
    const otherClient = (cluster as RedisCluster).client();
    const storeA = new RedisStore({ client, prefix });
    const storeB = new RedisStore({ client: otherClient, prefix });
    const options = { policies: [{ limit: 1, windowSeconds: 60 }], tiers: { team: [{ limit: 3, windowSeconds: 10 }] }, timeoutMs: 5_000 };
    const a = new RateLimiter({ ...options, store: storeA });
    const b = new RateLimiter({ ...options, store: storeB });
    try {
      const ids = Array.from({ length: 12 }, (_, i) => `spread-${i}`);
      for (const id of ids) await a.updatePolicies(id, { tier: 'team', policies: [{ limit: 50, windowSeconds: 3600 }] });
      for (const id of ids) expect((await b.check(id, { timestamp: 1_000 })).allowed).to.equal(true);
      const slots = new Set<number>();
      for (const id of ids) {
        const keys = [`${prefix}{${id}}:cfg`, `${prefix}{${id}}:pm2`, `${prefix}{${id}}:pw2:10`, `${prefix}{${id}}:pw2:3600`];
        const keySlots = await Promise.all(keys.map(async (k) => Number(await client.cluster('KEYSLOT', k))));
        expect(new Set(keySlots).size, `one slot for ${id}`).to.equal(1);
        expect(await client.exists(keys[3] as string), 'the 1 h policy key exists').to.equal(1);
        slots.add(keySlots[0] as number);
      }
      expect(slots.size).to.be.greaterThan(3);
      // A client's config change is announced like a limit change (B's leases drop what they hold).
      const heard: (string | undefined)[] = [];
      storeB.onLimitChange((id) => heard.push(id));
      for (let i = 0; i < 100 && storeB.subscriberConnection?.status !== 'ready'; i++) await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setTimeout(r, 100));
      await a.updatePolicies('spread-1', { tier: 'team', shadow: true });
      for (let i = 0; i < 100 && !heard.includes('spread-1'); i++) await new Promise((r) => setTimeout(r, 10));
      expect(heard).to.include('spread-1');
      expect(await b.check('spread-1', { timestamp: 1_000 })).to.include({ allowed: true, shadow: true });
      // Wait until B's tier subscription is up, then change the tier on A.
      for (let i = 0; i < 100 && storeB.subscriberConnection === undefined; i++) await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setTimeout(r, 200));
      const started = Date.now();
      await a.setTier('team', [{ limit: 9, windowSeconds: 10 }]);
      while (b.tiers.team?.[0]?.limit !== 9 && Date.now() - started < 1_000) await new Promise((r) => setTimeout(r, 10));
      expect(Date.now() - started, 'ms until the other instance knew the new tier').to.be.below(1_000);
      const d = (await b.check('spread-0', { timestamp: 1_001 })) as PolicyDecision;
      expect(d).to.include({ allowed: true, limit: 9, windowSeconds: 10, remaining: 7 });
    } finally {
      await a.close();
      await b.close();
      await storeA.close();
      await storeB.close();
      otherClient.disconnect();
    }
  });
});
