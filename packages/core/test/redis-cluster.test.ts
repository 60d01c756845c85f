/**
 * RedisStore through an ioredis Cluster on 3 masters: the equivalence suite (every decision as
 * MemoryStore's) and the shared contract, with clients spread over the slots of every master.
 * The multi-process invariant on a Cluster is in test/redis-distributed.test.ts.
 */
import { expect } from 'chai';
import { startCluster, type RedisCluster } from '@slidegate/test-utils';
import type { Cluster } from 'ioredis';
import { RateLimiter } from '../src/index';
import { RedisStore } from '../src/stores/redis-store';
import { clientKeys } from '../src/stores/redis/key-encoding';
import { describeStoreContract } from './support/store-contract';
import { describeEquivalence } from './redis-equivalence';
import { deleteKeys, uniquePrefix } from './redis-helpers';

describe('RedisStore on a Redis Cluster (3 masters)', function () {
  this.timeout(60_000);
  let cluster: RedisCluster | undefined;
  let client: Cluster | undefined;
  const prefix = uniquePrefix('cluster');

  before(async () => {
    cluster = await startCluster();
    client = cluster.client();
  });

  after(async () => {
    await cluster?.stop();
  });

  it('spreads clients over every master, and updateLimit reaches a store on another Cluster connection', async () => {
    const c = client as Cluster;
    const store = new RedisStore({ client: c, prefix });
    const otherClient = (cluster as RedisCluster).client();
    const other = new RedisStore({ client: otherClient, prefix });
    const heard: (string | undefined)[] = [];
    other.onLimitChange((id) => heard.push(id));
    const limiter = new RateLimiter({ limit: 2, windowSeconds: 10, store, timeoutMs: 5_000 });
    const ids = Array.from({ length: 30 }, (_, i) => `spread-${i}`);
    for (const id of ids) expect((await limiter.check(id, { timestamp: 1_000 })).allowed).to.equal(true);
    const owners = new Set<string>();
    for (const id of ids) {
      const slot = Number(await c.cluster('KEYSLOT', clientKeys(prefix, id).slidingWindow));
      const shards = (await c.cluster('SLOTS')) as [number, number, [string, number]][];
      const shard = shards.find(([from, to]) => slot >= from && slot <= to);
      owners.add(String(shard?.[2][1]));
    }
    expect(owners.size, 'masters holding the clients').to.equal(3);
    // Subscribed before the change, so the message is what delivers it.
    for (let i = 0; i < 100 && other.subscriberConnection?.status !== 'ready'; i++) await new Promise((r) => setTimeout(r, 20));
    await limiter.updateLimit('spread-0', 9, 20);
    const started = Date.now();
    while (!heard.includes('spread-0') && Date.now() - started < 1_000) await new Promise((r) => setTimeout(r, 10));
    expect(heard).to.include('spread-0');
    expect(await other.getLimit('spread-0')).to.deep.equal({ limit: 9, windowSeconds: 20 });
    await limiter.close();
    await store.close();
    await other.close();
    otherClient.disconnect();
    await deleteKeys(c, prefix);
  });

  it('batches per slot: after SCRIPT FLUSH on every master, a tick of checks for clients on every master is decided by Redis, each once', async () => {
    // Auto-pipelining groups commands by their first key's node: the batch scripts must be routed by key, also when reloaded.
    const pipelined = (cluster as RedisCluster).client({ enableAutoPipelining: true });
    const store = new RedisStore({ client: pipelined, prefix });
    const limiter = new RateLimiter({ limit: 3, windowSeconds: 10, store, timeoutMs: 5_000, failureMode: 'closed' });
    await Promise.all(pipelined.nodes('master').map((node) => node.script('FLUSH')));
    const ids = Array.from({ length: 40 }, (_, i) => `batch-${i % 8}-${i % 5}`);
    const decisions = await Promise.all([...ids, ...ids].map((id) => limiter.check(id, { timestamp: 2_000 })));
    expect(decisions.map((d) => d.source)).to.deep.equal(Array(80).fill('store'));
    const allowedPerId = new Map<string, number>();
    [...ids, ...ids].forEach((id, i) => allowedPerId.set(id, (allowedPerId.get(id) ?? 0) + ((decisions[i] as { allowed: boolean }).allowed ? 1 : 0)));
    // 40 ids make 40 distinct clients (i % 8, i % 5 cover every pair), each checked twice: both allowed (limit 3).
    expect(new Set(ids).size).to.equal(40);
    expect([...allowedPerId.values()]).to.deep.equal(Array(40).fill(2));
    const third = await Promise.all([...new Set(ids)].map((id) => limiter.check(id, { timestamp: 2_000 })));
    expect(third.map((d) => [d.source, d.allowed, d.remaining])).to.deep.equal(Array(40).fill(['store', true, 0]));
    await limiter.close();
    await store.close();
    pipelined.disconnect();
  });

  describeEquivalence(
    'Cluster',
    async () => ({ client: client as Cluster, cleanup: async () => undefined }),
    30,
  );

  describeStoreContract(
    'RedisStore on a Cluster',
    async ({ limit, windowSeconds, algorithm, bucketMs, now }) => {
      const store = new RedisStore({ client: client as Cluster, prefix });
      // The store's own decisions: leases and the denial cache (on by default) are tested on their own.
      const limiter = new RateLimiter({ limit, windowSeconds, algorithm, bucketMs, store, now, timeoutMs: 10_000, maxClockSkewSeconds: Infinity, lease: false, denialCache: false });
      return {
        limiter,
        cleanup: async () => {
          await limiter.close();
          await store.close();
        },
      };
    },
    { numRuns: 8 },
  );
});
