import { expect } from 'chai';
import { once } from 'node:events';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { sharedRedis, type SharedRedis } from '@slidegate/test-utils';
import { MemoryStore, RateLimiter, RedisStore, SAFE_REDIS_OPTIONS, redisShareFactor, type RateLimiterOptions } from '../src/index';
import { deleteKeys, uniquePrefix } from './redis-helpers';

/** A signal the test sets by hand. */
function syntheticSignal(): { value: number; calls: number; read: () => number } {
  const s = {
    value: 0,
    calls: 0,
    read: () => {
      s.calls++;
      return s.value;
    },
  };
  return s;
}

/** How many of `attempts` requests a brand-new client gets at one instant: the scaled limit. */
async function admitted(limiter: RateLimiter, clientId: string, attempts = 20): Promise<number> {
  let allowed = 0;
  for (let i = 0; i < attempts; i++) if ((await limiter.check(clientId, { timestamp: 1000 })).allowed) allowed++;
  return allowed;
}

describe('adaptive limits: a load signal drives a factor applied to every limit', () => {
  const closers: RateLimiter[] = [];
  afterEach(async () => {
    for (const l of closers.splice(0)) await l.close();
  });
  function limiter(options: RateLimiterOptions): RateLimiter {
    const l = new RateLimiter(options);
    closers.push(l);
    return l;
  }
  // A long interval: the test drives every sample with tick(), nothing runs on a timer.
  const manual = { target: 100, intervalMs: 3_600_000, decrease: 0.5, increase: 0.25, minFactor: 0.2 };

  it('falls multiplicatively while over target, recovers additively below it, and decisions follow floor(L * factor)', async () => {
    const load = syntheticSignal();
    const registry = new Registry();
    const l = limiter({ limit: 10, windowSeconds: 60, adaptive: { ...manual, signal: load.read }, metrics: { registry, name: 'adaptive' } });
    expect(l.adaptive!.factor).to.equal(1);
    expect(await admitted(l, 'start')).to.equal(10);

    load.value = 250;
    const down: number[] = [];
    const limits: number[] = [];
    for (let i = 0; i < 4; i++) {
      await l.adaptive!.tick();
      down.push(l.adaptive!.factor);
      limits.push(await admitted(l, `down-${i}`));
    }
    expect(down).to.deep.equal([0.5, 0.25, 0.2, 0.2]); // x0.5 each sample, floored at minFactor
    expect(limits).to.deep.equal([5, 2, 2, 2]); // floor(10 * factor)
    // A client that used 5 at factor 0.5 is denied now that its limit is floor(10 * 0.2).
    const denied = await l.check('down-0', { timestamp: 1000 });
    expect(denied).to.include({ allowed: false, limit: 2, remaining: 0 });

    load.value = 100; // at target counts as healthy
    const up: number[] = [];
    for (let i = 0; i < 4; i++) {
      await l.adaptive!.tick();
      up.push(l.adaptive!.factor);
    }
    expect(up).to.deep.equal([0.45, 0.7, 0.95, 1]); // +0.25 each sample, capped at 1
    expect(await admitted(l, 'recovered')).to.equal(10);
    const scraped = await registry.getSingleMetric('slidegate_adaptive_factor')!.get();
    expect(scraped.values.find((v) => v.labels.name === 'adaptive')?.value).to.equal(1);
  });

  it('scales a client\'s own limit too, and the status snapshot shows the factor', async () => {
    const load = syntheticSignal();
    const l = limiter({ limit: 10, windowSeconds: 60, adaptive: { ...manual, signal: load.read }, metrics: { prometheus: false } });
    await l.updateLimit('vip', 16, 60);
    load.value = 1000;
    await l.adaptive!.tick();
    expect(await admitted(l, 'vip')).to.equal(8);
    expect(l.metrics!.snapshot().adaptiveFactor).to.equal(0.5);
  });

  it("scope 'shared': limiters on one store apply the smallest live proposal; a closed one stops counting", async () => {
    const store = new MemoryStore();
    const hot = syntheticSignal();
    const calm = syntheticSignal();
    const a = limiter({ limit: 10, windowSeconds: 60, store, adaptive: { ...manual, signal: hot.read } });
    const b = limiter({ limit: 10, windowSeconds: 60, store, adaptive: { ...manual, signal: calm.read } });
    const other = limiter({ limit: 10, windowSeconds: 60, store, adaptive: { ...manual, signal: calm.read, group: 'other' } });
    hot.value = 500;
    await a.adaptive!.tick();
    await b.adaptive!.tick();
    await other.adaptive!.tick();
    expect([a.adaptive!.factor, b.adaptive!.factor]).to.deep.equal([0.5, 0.5]);
    expect(b.adaptive!.proposal).to.equal(1); // b itself is healthy
    expect(other.adaptive!.factor).to.equal(1); // another group is not affected
    expect(await admitted(b, 'via-b')).to.equal(5);
    await a.close();
    await b.adaptive!.tick();
    expect(b.adaptive!.factor).to.equal(1);
    await store.close();
  });

  it("scope 'instance': each limiter applies only its own factor", async () => {
    const store = new MemoryStore();
    const hot = syntheticSignal();
    const calm = syntheticSignal();
    const a = limiter({ limit: 10, windowSeconds: 60, store, adaptive: { ...manual, signal: hot.read, scope: 'instance' } });
    const b = limiter({ limit: 10, windowSeconds: 60, store, adaptive: { ...manual, signal: calm.read, scope: 'instance' } });
    hot.value = 500;
    await a.adaptive!.tick();
    await b.adaptive!.tick();
    expect([a.adaptive!.factor, b.adaptive!.factor]).to.deep.equal([0.5, 1]);
    expect(a.adaptive!.shared).to.equal(false);
    await store.close();
  });

  it('keeps the factor when the signal throws or returns NaN, with one coded warning', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error & { code?: string }): void => {
      if (w.code !== undefined) warnings.push(w.code);
    };
    process.on('warning', onWarning);
    try {
      let mode: 'high' | 'throw' | 'nan' = 'high';
      const signal = (): number => {
        if (mode === 'throw') throw new Error('probe down');
        return mode === 'nan' ? Number.NaN : 500;
      };
      const l = limiter({ limit: 10, windowSeconds: 60, adaptive: { ...manual, signal } });
      await l.adaptive!.tick();
      mode = 'throw';
      await l.adaptive!.tick();
      mode = 'nan';
      await l.adaptive!.tick();
      expect(l.adaptive!.factor).to.equal(0.5);
      await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
      expect(warnings.filter((c) => c === 'SLIDEGATE_ADAPTIVE_SIGNAL')).to.have.length(1);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('samples on its own unref\'d timer every intervalMs, and close() stops it', async () => {
    const load = syntheticSignal();
    load.value = 500;
    const l = limiter({ limit: 10, windowSeconds: 60, adaptive: { target: 100, intervalMs: 10, signal: load.read } });
    const deadline = Date.now() + 2000;
    while (load.calls < 3 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(load.calls).to.be.at.least(3);
    expect(l.adaptive!.factor).to.be.below(1);
    await l.close();
    const calls = load.calls;
    await new Promise((resolve) => setTimeout(resolve, 40));
    expect(load.calls).to.equal(calls);
  });

  it('reads the event-loop delay by default: a blocked loop lowers the factor', async () => {
    const l = limiter({ limit: 10, windowSeconds: 60, adaptive: { intervalMs: 3_600_000 } });
    await l.adaptive!.tick(); // discards whatever ran before this test
    // Block the loop twice for 120 ms (target: 50 ms of p99 delay), letting the histogram's timer fire between.
    for (let i = 0; i < 2; i++) {
      const until = Date.now() + 120;
      while (Date.now() < until) {
        /* busy */
      }
      await new Promise((resolve) => setTimeout(resolve, 15));
    }
    await l.adaptive!.tick();
    expect(l.adaptive!.lastSignal).to.be.above(50);
    expect(l.adaptive!.factor).to.equal(0.8);
  });

  it('refuses bad adaptive options with messages naming the option and the value', () => {
    const make = (adaptive: unknown) => () => new RateLimiter({ limit: 1, windowSeconds: 1, adaptive: adaptive as never });
    expect(make(1)).to.throw(TypeError, /options\.adaptive must be a boolean or an object; got number 1/);
    expect(make({ signal: () => 1 })).to.throw(TypeError, /adaptive\.target is required with a custom signal/);
    expect(make({ decrease: 1 })).to.throw(RangeError, /adaptive\.decrease must be above 0 and below 1; got number 1/);
    expect(make({ increase: 0 })).to.throw(RangeError, /adaptive\.increase must be a finite number above 0 to 1; got number 0/);
    expect(make({ minFactor: 1.5 })).to.throw(RangeError, /adaptive\.minFactor must be a finite number above 0 to 1; got number 1.5/);
    expect(make({ intervalMs: 5 })).to.throw(RangeError, /adaptive\.intervalMs must be a finite number from 10 to 3600000; got number 5/);
    expect(make({ scope: 'global' })).to.throw(RangeError, /adaptive\.scope must be 'shared' or 'instance'; got string "global"/);
    expect(make({ signal: 'cpu', target: 1 })).to.throw(TypeError, /adaptive\.signal must be a function returning a number; got string "cpu"/);
  });
});

describe('adaptive limits shared through Redis (redisShareFactor, real Redis)', () => {
  let redis: SharedRedis;
  let client: Redis;
  const key = `${uniquePrefix('adaptive')}{adaptive:default}`;
  before(async () => {
    redis = await sharedRedis();
    client = new Redis(redis.port, redis.host, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await client.connect();
  });
  after(async () => {
    await client.del(key);
    client.disconnect();
    await redis.stop();
  });

  it('two instances on one Redis apply the smallest proposal, to decisions that RedisStore scales in its script', async () => {
    const prefix = uniquePrefix('adaptive-store');
    const clients = [new Redis({ host: redis.host, port: redis.port, ...SAFE_REDIS_OPTIONS }), new Redis({ host: redis.host, port: redis.port, ...SAFE_REDIS_OPTIONS })];
    await Promise.all(clients.map((c) => (c.status === 'ready' ? undefined : once(c, 'ready'))));
    const hot = syntheticSignal();
    const calm = syntheticSignal();
    const options = { target: 100, intervalMs: 3_600_000, decrease: 0.5, increase: 0.25, minFactor: 0.2 };
    const a = new RateLimiter({ limit: 10, windowSeconds: 60, store: new RedisStore({ client: clients[0]!, prefix }), adaptive: { ...options, signal: hot.read } });
    const b = new RateLimiter({ limit: 10, windowSeconds: 60, store: new RedisStore({ client: clients[1]!, prefix }), adaptive: { ...options, signal: calm.read } });
    try {
      hot.value = 500;
      await a.adaptive!.tick();
      await b.adaptive!.tick();
      expect([a.adaptive!.shared, a.adaptive!.factor, b.adaptive!.factor, b.adaptive!.proposal]).to.deep.equal([true, 0.5, 0.5, 1]);
      // One client, both instances: the shared window admits floor(10 * 0.5) in all.
      let allowed = 0;
      for (let i = 0; i < 8; i++) if ((await (i % 2 === 0 ? a : b).check('shared-client', { timestamp: 5000 })).allowed) allowed++;
      expect(allowed).to.equal(5);
      await a.close(); // withdraws its proposal
      await b.adaptive!.tick();
      expect(b.adaptive!.factor).to.equal(1);
    } finally {
      await a.close();
      await b.close();
      await deleteKeys(clients[0]!, prefix);
      for (const c of clients) c.disconnect();
    }
  });

  it('returns the smallest live proposal; proposals expire after their TTL by Redis time, and can be withdrawn', async () => {
    expect(await redisShareFactor(client, key, 'a', 1, 5)).to.equal(1);
    expect(await redisShareFactor(client, key, 'b', 0.4, 0.2)).to.equal(0.4);
    expect(await redisShareFactor(client, key, 'a', 0.9, 5)).to.equal(0.4);
    expect(await client.ttl(key)).to.be.within(1, 6);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await redisShareFactor(client, key, 'a', 0.9, 5)).to.equal(0.9); // b's proposal expired
    expect(await client.hexists(key, 'b')).to.equal(0);
    expect(await redisShareFactor(client, key, 'a', 0.9, 0)).to.equal(1); // withdrawn: nobody proposes
    expect(await client.hlen(key)).to.equal(0);
  });
});
