/**
 * Policy mode on a real Redis (the machine's on 6379, or a throwaway one): the Lua script decides
 * exactly as MemoryStore (and so as the model) over random sequences, plus the long-history paths.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { sharedRedis, startRedis, type SharedRedis } from '@slidegate/test-utils';
import { MemoryStore } from '../src/stores/memory-store';
import { RedisStore } from '../src/stores/redis-store';
import { RateLimiter } from '../src/rate-limiter';
import type { PolicyDecision } from '../src/policies/policy-types';
import { makePolicyDefaults } from '../src/policies/policy-validation';
import { policyScenarioArb, runPolicyScenario } from './policy-equivalence';
import { deleteKeys, uniquePrefix } from './redis-helpers';

describe('several policies per client: RedisStore decides exactly as MemoryStore (standalone Redis)', function () {
  this.timeout(60_000);
  let shared: SharedRedis | undefined;
  let client: Redis;
  let store: RedisStore;
  const prefix = uniquePrefix('policies');

  before(async () => {
    shared = await sharedRedis();
    client = new Redis(shared.url);
    store = new RedisStore({ client, prefix });
  });

  after(async () => {
    await store?.close();
    if (client !== undefined) {
      await deleteKeys(client, prefix);
      client.disconnect();
    }
    await shared?.stop();
  });

  it('identical decisions, field by field, over random sequences (leases, settles, configs, tiers)', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(policyScenarioArb, async (scenario) => {
        await runPolicyScenario(scenario, `r${run++}:`, store);
      }),
      { numRuns: Number(process.env.SLIDEGATE_POLICY_REDIS_RUNS ?? 150) },
    );
  });

  it('identical over a long history: chunked reads, in-place appends, compaction, settles deep in the string', async () => {
    const memory = new MemoryStore({ now: () => 0, sweepIntervalMs: 0 });
    const defaults = makePolicyDefaults(
      [
        { limit: 40, windowSeconds: 10 },
        { limit: 600, windowSeconds: 600 },
        { limit: 2000, windowSeconds: 3600 },
      ],
      {},
      1,
    );
    const base = { clientId: 'long-history', defaults, algorithm: 'sliding-window' as const, extra: 0, limitFactor: 1 };
    // 1 ms buckets: one pair per distinct ms, so the strings grow long. Times in ms.
    let t = 1_000_000_000;
    let longest = 0;
    for (let i = 0; i < 1200; i++) {
      t += i % 29 === 0 ? 30_000 : (i % 2) * 700;
      const late = i % 11 === 0 ? 5000 : 0;
      const cost = i % 97 === 0 ? 150 : 1 + (i % 3);
      const release = i % 13 === 0 ? { at: t - 2000, units: 2 } : undefined;
      const request = { ...base, timestamp: t - late, cost, release, bucketMs: 1 };
      expect(await store.check(request), `request ${i}`).to.deep.equal(await memory.check(request));
      if (i % 7 === 0) {
        const settle = { clientId: base.clientId, at: t - (i % 5) * 1000, units: i % 2 === 0 ? 3 : -2, defaults, limitFactor: 1 };
        await memory.settle(settle);
        await store.settle(settle);
      }
      longest = Math.max(longest, await client.strlen(`${prefix}{long-history}:pw2:3600`));
    }
    await memory.close();
    expect(longest, 'the 1-hour string outgrew its first 512-byte read').to.be.greaterThan(28 + 512);
  });

  it('two leasing instances on Redis never admit more than any policy allows in any window', async () => {
    let nowMs = 5_000_000;
    const policies = [
      { limit: 20, windowSeconds: 2 },
      { limit: 45, windowSeconds: 6 },
      { limit: 100, windowSeconds: 30 },
    ];
    const instances = [0, 1].map(() => new RateLimiter({ policies, store, lease: { maxUnits: 8, share: 0.5 }, now: () => nowMs / 1000, timeoutMs: 5_000 }));
    const admitted: number[] = [];
    let fromLease = 0;
    try {
      for (let step = 0; step < 1500; step++) {
        nowMs += 43;
        const d = await (instances[step % 2] as RateLimiter).check('leased-hot', { timestamp: Math.floor(nowMs / 1000) });
        if (d.allowed) admitted.push(d.timestamp);
        if (d.source === 'lease') fromLease++;
      }
    } finally {
      for (const limiter of instances) await limiter.close();
    }
    expect(fromLease, 'leases decided some requests').to.be.greaterThan(50);
    for (const { limit, windowSeconds } of policies) {
      for (let s = admitted[0] as number; s <= (admitted[admitted.length - 1] as number); s++) {
        const inWindow = admitted.filter((at) => at > s - windowSeconds && at <= s).length;
        expect(inWindow, `window (${s - windowSeconds}, ${s}] of ${limit}/${windowSeconds}s`).to.be.at.most(limit);
      }
    }
  });

  it('a decision is one EVALSHA, nothing else (counted on a throwaway server)', async () => {
    const server = await startRedis();
    const own = new Redis(server.url);
    const ownStore = new RedisStore({ client: own, prefix: 'count:' });
    const limiter = new RateLimiter({ policies: [{ limit: 3, windowSeconds: 1 }, { limit: 50, windowSeconds: 60 }, { limit: 90, windowSeconds: 3600 }], store: ownStore, timeoutMs: 5_000 });
    try {
      await limiter.check('warm', { timestamp: 1 }); // loads the script (EVALSHA, then EVAL after NOSCRIPT)
      await own.config('RESETSTAT');
      for (let i = 0; i < 100; i++) await limiter.check(`c${i % 7}`, { timestamp: 1_000 + Math.floor(i / 10) });
      const stats = await own.info('commandstats');
      const calls = Object.fromEntries([...stats.matchAll(/^cmdstat_(\w+):calls=(\d+)/gm)].map((m) => [m[1], Number(m[2])]));
      // Commands run inside the script count too (HMGET, GETRANGE, SET, ...); EVALSHA is the only one sent per
      // decision (the tier subscriber's connection set-up may land here too).
      expect(calls.evalsha).to.equal(100);
      expect(calls.eval ?? 0).to.equal(0);
      const inScriptOrSetup = ['evalsha', 'config', 'info', 'hmget', 'get', 'getrange', 'set', 'setrange', 'append', 'pexpire', 'del', 'strlen', 'subscribe', 'ping', 'client', 'select', 'hello'];
      expect(Object.keys(calls).filter((c) => !inScriptOrSetup.includes(c))).to.deep.equal([]);
      expect(calls.hmget, 'one config read per decision, inside the script').to.equal(100);
    } finally {
      await limiter.close();
      await ownStore.close();
      own.disconnect();
      await server.stop();
    }
  });

  it("with clock: 'redis', a check without a timestamp is decided at Redis TIME", async () => {
    const redisClock = new RedisStore({ client, prefix, clock: 'redis' });
    const limiter = new RateLimiter({ policies: [{ limit: 1, windowSeconds: 5 }, { limit: 5, windowSeconds: 60 }], store: redisClock, timeoutMs: 5_000 });
    try {
      const [seconds] = await client.time();
      const first = await limiter.check('redis-clock');
      expect(first.allowed).to.equal(true);
      expect(Math.abs(first.timestamp - Number(seconds))).to.be.at.most(1);
      expect(await limiter.check('redis-clock')).to.include({ allowed: false, windowSeconds: 5 });
    } finally {
      await limiter.close();
      await redisClock.close();
    }
  });

  it('shadow mode, reserve and settle, and per-client configs through RateLimiter on Redis', async () => {
    const limiter = new RateLimiter({ policies: [{ limit: 10, windowSeconds: 60 }, { limit: 30, windowSeconds: 3600 }], store, timeoutMs: 5_000, bucketMs: 1 });
    try {
      const reservation = await limiter.reserve('llm', { estimate: 8, timestamp: 10_000 });
      expect(reservation.recorded).to.equal(true);
      expect(await limiter.settle(reservation, 20)).to.equal(12);
      const over = (await limiter.check('llm', { timestamp: 10_030 })) as PolicyDecision;
      expect(over).to.include({ allowed: false, windowSeconds: 60, retryAfter: 30 });
      expect(over.policies[1]).to.include({ remaining: 10, allows: true });
      await limiter.updatePolicies('llm', { shadow: true, policies: [{ limit: 10, windowSeconds: 60 }] });
      expect(await limiter.check('llm', { timestamp: 10_031 })).to.include({ allowed: true, shadow: true, wouldAllow: false });
      expect(await limiter.getPolicies('llm')).to.deep.equal({ policies: [{ limit: 10, windowSeconds: 60 }], own: [{ limit: 10, windowSeconds: 60 }], shadow: true });
      const small = await limiter.reserve('refund', { estimate: 10, timestamp: 10_000 });
      await limiter.settle(small, 1);
      expect(await limiter.check('refund', { timestamp: 10_001 })).to.include({ allowed: true, remaining: 8 });
    } finally {
      await limiter.close();
    }
  });
});
