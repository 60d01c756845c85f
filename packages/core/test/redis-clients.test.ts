/**
 * RedisStore on every Redis client it supports (ioredis 5 and 6, iovalkey, node-redis 4 and 5):
 * the reference-model contract and the field-by-field equivalence with MemoryStore on the shared
 * Redis, limit changes over pub/sub between instances on different clients, and NOSCRIPT reloads.
 * ioredis 5 runs the contract and equivalence suites in their own files; here it takes part in the
 * cross-client cases.
 */
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { REDIS_CLIENT_KINDS, sharedRedis, startCluster, startRedis, type ConnectedClient, type RedisCluster, type RedisServer, type SharedRedis } from '@slidegate/test-utils';
import type { Cluster } from 'ioredis';
import { RateLimiter, RedisStore } from '../src/index';
import { describeStoreContract } from './support/store-contract';
import { describeEquivalence } from './redis-equivalence';
import { deleteKeys, uniquePrefix } from './redis-helpers';

const ONLY = process.env.SLIDEGATE_REDIS_CLIENT;
const KINDS = REDIS_CLIENT_KINDS.filter((k) => ONLY === undefined || k.name === ONLY);

async function within(ms: number, predicate: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const started = Date.now();
  while (Date.now() - started < ms) {
    if (await predicate()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`${what}: not within ${ms} ms`);
}

describe('RedisStore on every supported Redis client', function () {
  this.timeout(60_000);
  let shared: SharedRedis;
  let admin: Redis;
  before(async () => {
    shared = await sharedRedis();
    admin = new Redis(shared.url);
  });
  after(async () => {
    admin?.disconnect();
    await shared?.stop();
  });

  it('detects each client and names it', async () => {
    for (const kind of KINDS) {
      const { client, close } = await kind.standalone(shared.url);
      const store = new RedisStore({ client, prefix: uniquePrefix('detect') });
      try {
        const family = kind.name.split(' ')[0] as string;
        expect(store.clientName, kind.name).to.match(new RegExp(`^${family === 'iovalkey' ? 'ioredis' : family}`));
      } finally {
        await store.close();
        await close();
      }
    }
  });

  it('refuses what is not a client, and a node-redis 4 client in legacyMode, naming the fix', () => {
    expect(() => new RedisStore({ client: { sendCommand: () => undefined } })).to.throw(TypeError, /options\.client must be an ioredis or iovalkey .* or a RedisClientAdapter; got an object/);
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- the legacy client needs no connection to be refused
    const { createClient } = require('redis4') as { createClient(o: object): object };
    expect(() => new RedisStore({ client: createClient({ legacyMode: true }) })).to.throw(TypeError, /legacyMode; pass its promise API, client\.v4/);
  });

  for (const kind of KINDS) {
    describe(kind.name, () => {
      let connected: ConnectedClient | undefined;
      const connection = async (): Promise<object> => (connected ??= await kind.standalone(shared.url)).client;
      const prefix = uniquePrefix(`clients-${kind.name.replace(/\W/g, '')}`);
      after(async () => {
        await deleteKeys(admin, prefix);
        await connected?.close();
      });

      if (kind.name !== 'ioredis 5') {
        describeStoreContract(
          `RedisStore (${kind.name})`,
          async ({ limit, windowSeconds, algorithm, bucketMs, now }) => {
            const store = new RedisStore({ client: await connection(), prefix });
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
          { numRuns: 10 },
        );
        describeEquivalence(kind.name, async () => ({ client: await connection(), admin, cleanup: async () => undefined }), 12);
      }

      it('a limit set through another client reaches this one over pub/sub within 1 s, both ways', async () => {
        const other = new RedisStore({ client: admin, prefix });
        const mine = new RedisStore({ client: await connection(), prefix });
        const seen: (string | undefined)[] = [];
        mine.onLimitChange((id) => seen.push(id));
        try {
          await within(2_000, () => mine.subscribed, `${kind.name} subscribed`);
          const defaults = { limit: 5, windowSeconds: 60 };
          expect(await mine.getLimit('pubsub')).to.equal(undefined); // cached now
          const started = Date.now();
          await other.setLimit({ clientId: 'pubsub', limit: { limit: 9, windowSeconds: 30 }, defaults, algorithm: 'sliding-window' });
          await within(1_000, () => seen.includes('pubsub'), 'the change announced');
          expect(Date.now() - started).to.be.below(1_000);
          expect(await mine.getLimit('pubsub')).to.deep.equal({ limit: 9, windowSeconds: 30 });
          // And the other way: this client's PUBLISH (inside the script) reaches an ioredis subscriber.
          const theirs: (string | undefined)[] = [];
          other.onLimitChange((id) => theirs.push(id));
          await within(2_000, () => other.subscribed, 'ioredis subscribed');
          await mine.setLimit({ clientId: 'pubsub 2', limit: { limit: 3, windowSeconds: 10 }, defaults, algorithm: 'sliding-window' });
          await within(1_000, () => theirs.includes('pubsub 2'), 'the change announced to the other');
        } finally {
          await mine.close();
          await other.close();
        }
      });
    });
  }

  describe('on a throwaway server', () => {
    let server: RedisServer;
    before(async () => {
      server = await startRedis();
    });
    after(async () => {
      await server?.stop();
    });

    for (const kind of KINDS) {
      it(`${kind.name}: after SCRIPT FLUSH every script loads again on its own (EVALSHA, NOSCRIPT, EVAL)`, async () => {
        const { client, close } = await kind.standalone(server.url);
        const store = new RedisStore({ client, prefix: uniquePrefix('noscript') });
        const limiter = new RateLimiter({ limit: 2, windowSeconds: 60, store, timeoutMs: 5_000 });
        const flusher = server.client();
        try {
          for (const algorithm of ['sliding-window', 'sliding-log', 'sliding-counter'] as const) {
            await flusher.script('FLUSH');
            const check = (id: string): Promise<boolean> => store.check({ clientId: id, timestamp: 100, cost: 1, defaults: { limit: 2, windowSeconds: 60 }, algorithm, extra: 0, limitFactor: 1 }).then((d) => d.allowed);
            // A lone check (single script) and a batch (three in one turn): both survive the flush.
            expect(await check(`${algorithm}-a`)).to.equal(true);
            await flusher.script('FLUSH');
            expect(await Promise.all([check(`${algorithm}-b`), check(`${algorithm}-b`), check(`${algorithm}-b`)])).to.deep.equal([true, true, false]);
          }
          await flusher.script('FLUSH');
          await limiter.updateLimit('x', 1, 10);
          expect(await limiter.getLimit('x')).to.deep.equal({ limit: 1, windowSeconds: 10 });
          expect((await limiter.check('x', { timestamp: 5 })).source).to.equal('store');
        } finally {
          flusher.disconnect();
          await limiter.close();
          await store.close();
          await close();
        }
      });

      it(`${kind.name}: the subscriber comes back after its connection is killed, and nothing stale stays cached`, async () => {
        const { client, close } = await kind.standalone(server.url);
        const prefix = uniquePrefix('resub');
        const store = new RedisStore({ client, prefix });
        const writer = new RedisStore({ client: server.client(), prefix });
        const killer = server.client();
        const defaults = { limit: 5, windowSeconds: 60 };
        const changes: (string | undefined)[] = [];
        store.onLimitChange((id) => changes.push(id));
        try {
          await within(2_000, () => store.subscribed, 'subscribed');
          expect(await store.getLimit('c')).to.equal(undefined);
          await killer.client('KILL', 'TYPE', 'pubsub');
          await within(2_000, () => !store.subscribed || changes.includes(undefined), 'the drop seen');
          // A change while the subscriber may be down: it must not be hidden by the cache.
          await writer.setLimit({ clientId: 'c', limit: { limit: 4, windowSeconds: 20 }, defaults, algorithm: 'sliding-window' });
          await within(3_000, () => store.subscribed, 'subscribed again');
          await within(1_000, async () => (await store.getLimit('c'))?.limit === 4, 'the new limit read');
        } finally {
          killer.disconnect();
          await store.close();
          await writer.close();
          await close();
        }
      });
    }
  });

  describe('on a Redis Cluster (3 masters)', () => {
    let cluster: RedisCluster;
    let clusterAdmin: Cluster;
    before(async () => {
      cluster = await startCluster();
      clusterAdmin = cluster.client();
    });
    after(async () => {
      await cluster?.stop();
    });

    for (const kind of KINDS) {
      describe(`${kind.name} Cluster`, () => {
        let connected: ConnectedClient | undefined;
        const connection = async (): Promise<object> => (connected ??= await kind.cluster(cluster.startupNodes)).client;
        after(async () => {
          await connected?.close();
        });

        describeEquivalence(`${kind.name} Cluster`, async () => ({ client: await connection(), admin: clusterAdmin, cleanup: async () => undefined }), 10);

        it('batches per slot, and a limit change reaches another Cluster client within 1 s', async () => {
          const prefix = uniquePrefix('cluster-clients');
          const store = new RedisStore({ client: await connection(), prefix });
          expect(store.clientName).to.match(/[Cc]luster/);
          const other = new RedisStore({ client: clusterAdmin, prefix });
          const heard: (string | undefined)[] = [];
          store.onLimitChange((id) => heard.push(id));
          // Every check goes to the store (the batching is under test): no leases, no denial cache.
          const limiter = new RateLimiter({ limit: 2, windowSeconds: 10, store, timeoutMs: 5_000, lease: false, denialCache: false });
          try {
            // 30 clients over every slot's master, three checks each in one turn: batches split by slot.
            const ids = Array.from({ length: 30 }, (_, i) => `spread-${i}`);
            const decisions = await Promise.all(ids.flatMap((id) => [1, 2, 3].map(() => limiter.check(id, { timestamp: 1_000 }))));
            expect(decisions.filter((d) => d.allowed).length, JSON.stringify(decisions.map((d, i) => [ids[Math.floor(i / 3)], d.allowed, d.remaining, d.limit]).filter((_, i) => i % 3 === 2 && decisions[i]?.allowed))).to.equal(60);
            expect(decisions.every((d) => d.source === 'store')).to.equal(true);
            await within(2_000, () => store.subscribed, 'subscribed');
            await other.setLimit({ clientId: 'spread-0', limit: { limit: 9, windowSeconds: 20 }, defaults: { limit: 2, windowSeconds: 10 }, algorithm: 'sliding-window' });
            await within(1_000, () => heard.includes('spread-0'), 'the change heard');
            expect(await store.getLimit('spread-0')).to.deep.equal({ limit: 9, windowSeconds: 20 });
          } finally {
            await limiter.close();
            await store.close();
            await other.close();
            await deleteKeys(clusterAdmin, prefix);
          }
        });
      });
    }
  });
});
