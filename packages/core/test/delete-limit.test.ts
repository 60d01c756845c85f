import { once } from 'node:events';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { sharedRedis, type SharedRedis } from '@slidegate/test-utils';
import { MemoryStore, RateLimiter, RedisStore, SAFE_REDIS_OPTIONS, type Store } from '../src/index';
import { clientKeys } from '../src/stores/redis/key-encoding';
import { HttpLimiter } from '../src/http/http-limiter';
import { deleteKeys, uniquePrefix } from './redis-helpers';

// deleteLimit(): own limits never expire, so this is how one goes. MemoryStore and RedisStore (real
// Redis), plain and policy mode, the window-change rule, and the other instances told.

const T0 = 1_700_000_000;
const DEFAULTS = { limit: 5, windowSeconds: 60 };

describe('deleteLimit: removing a per-client limit', function () {
  this.timeout(15_000);
  let redis: SharedRedis;
  let client: Redis;
  const prefix = uniquePrefix('delete-limit');
  const closers: Array<() => Promise<unknown>> = [];

  before(async () => {
    redis = await sharedRedis();
    client = new Redis({ host: redis.host, port: redis.port, ...SAFE_REDIS_OPTIONS });
    if (client.status !== 'ready') await once(client, 'ready');
  });
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
  });
  after(async () => {
    await deleteKeys(client, prefix);
    client.disconnect();
    await redis.stop();
  });

  function limiterOn(store: Store, options: Record<string, unknown> = DEFAULTS): RateLimiter {
    const limiter = new RateLimiter({ ...options, store, timeoutMs: 2000 } as never);
    closers.push(() => limiter.close(), () => store.close());
    return limiter;
  }

  const stores: Array<[string, () => Store]> = [
    ['MemoryStore', () => new MemoryStore({ sweepIntervalMs: 0 })],
    ['RedisStore', () => new RedisStore({ client, prefix })],
  ];

  for (const [name, makeStore] of stores) {
    describe(name, () => {
      it('the defaults apply again; requests recorded under the own limit keep counting', async () => {
        const limiter = limiterOn(makeStore());
        await limiter.updateLimit('vip', 2, 10);
        expect((await limiter.check('vip', { timestamp: T0 })).limit).to.equal(2);
        expect((await limiter.check('vip', { timestamp: T0 })).allowed).to.equal(true);
        expect((await limiter.check('vip', { timestamp: T0 })).allowed).to.equal(false);
        await limiter.deleteLimit('vip');
        expect(await limiter.getLimit('vip')).to.deep.equal(DEFAULTS);
        const d = await limiter.check('vip', { timestamp: T0 + 1 });
        // 2 recorded + this one, of the default 5.
        expect(d).to.include({ allowed: true, limit: 5, remaining: 2 });
      });

      it('a client without an own limit, or deleted twice: nothing changes, nothing fails', async () => {
        const limiter = limiterOn(makeStore());
        await limiter.deleteLimit('nobody');
        await limiter.updateLimit('twice', 9, 60);
        await limiter.deleteLimit('twice');
        await limiter.deleteLimit('twice');
        expect(await limiter.getLimit('twice')).to.deep.equal(DEFAULTS);
        expect((await limiter.check('nobody', { timestamp: T0 })).limit).to.equal(5);
      });

      it('policy mode: the whole config goes (own policies and tier); the defaults apply again', async () => {
        const limiter = limiterOn(makeStore(), { policies: [{ limit: 3, windowSeconds: 1 }, { limit: 100, windowSeconds: 3600 }], tiers: { pro: [{ limit: 50, windowSeconds: 1 }] } });
        await limiter.updatePolicies('p', { tier: 'pro', policies: [{ limit: 7, windowSeconds: 60 }] });
        expect((await limiter.getPolicies('p')).tier).to.equal('pro');
        await limiter.deleteLimit('p');
        const after = await limiter.getPolicies('p');
        expect(after).to.deep.equal({ policies: [{ limit: 3, windowSeconds: 1 }, { limit: 100, windowSeconds: 3600 }], shadow: false });
      });
    });
  }

  it('RedisStore: the config key is gone from Redis, and another instance learns of it within a second', async () => {
    const a = limiterOn(new RedisStore({ client, prefix }));
    const b = limiterOn(new RedisStore({ client, prefix }));
    await a.updateLimit('shared', 1, 60);
    const configKey = clientKeys(prefix, 'shared').config;
    expect(await client.exists(configKey)).to.equal(1);
    // b reads (and caches) the own limit first.
    expect(await b.getLimit('shared')).to.deep.equal({ limit: 1, windowSeconds: 60 });
    await a.deleteLimit('shared');
    expect(await client.exists(configKey), 'no config hash left behind').to.equal(0);
    let seen = await b.getLimit('shared');
    for (let i = 0; i < 50 && seen.limit !== DEFAULTS.limit; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      seen = await b.getLimit('shared');
    }
    expect(seen).to.deep.equal(DEFAULTS);
  });

  it('the middleware (shared HTTP layer) deletes a client key\'s own limit under its prefix', async () => {
    const store = new RedisStore({ client, prefix });
    const http = new HttpLimiter<{ key: string }, never>(
      { limit: 3, windowSeconds: 60, store, name: 'api', keyGenerator: (req: { key: string }) => req.key },
      { ip: () => undefined, forwardedForIgnored: () => false },
      'test',
    );
    closers.push(() => http.close(), () => store.close());
    const kinds = async (n: number) => {
      const seen: string[] = [];
      for (let i = 0; i < n; i++) seen.push((await http.evaluate({ key: 'alice' })).kind);
      return seen;
    };
    await http.updateLimit('alice', 1, 60);
    expect(await kinds(2)).to.deep.equal(['allowed', 'limited']);
    await http.deleteLimit('alice');
    expect(await http.getLimit('alice')).to.deep.equal({ limit: 3, windowSeconds: 60 });
    expect(await kinds(3), 'the default 3, one already used').to.deep.equal(['allowed', 'allowed', 'limited']);
  });

  it('is refused with a TypeError for a store without deleteLimit, and for a bad client id', async () => {
    const store = new MemoryStore({ sweepIntervalMs: 0 });
    const bare = Object.assign(Object.create(null) as object, {
      check: store.check.bind(store),
      release: store.release.bind(store),
      getLimit: store.getLimit.bind(store),
      setLimit: store.setLimit.bind(store),
      onLimitChange: store.onLimitChange.bind(store),
      close: store.close.bind(store),
      hasOwnClock: false,
      inProcess: true,
    }) as Store;
    const limiter = limiterOn(bare);
    let error: unknown;
    await limiter.deleteLimit('x').catch((e: unknown) => (error = e));
    expect(error).to.be.instanceOf(TypeError).with.property('message').that.matches(/deleteLimit\(\) needs a store with a deleteLimit/);
    error = undefined;
    await limiter.deleteLimit('' as never).catch((e: unknown) => (error = e));
    expect(error).to.be.instanceOf(RangeError);
  });
});
