/**
 * The local denial cache: on by default on a shared store, what it answers and for how long, what
 * makes it ask the store again (time, another cost, a limit change here or through the change
 * channel, an adaptive factor), that it never admits more and answers what the store would, its
 * metrics, and the synchronous HTTP path.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import {
  MemoryStore,
  RateLimiter,
  statusSnapshot,
  type Decision,
  type RateLimiterOptions,
  type Store,
  type StoreCheckRequest,
  type StoreDecision,
} from '../src/index';
import { DenialCache } from '../src/leases/denial-cache';
import { decisionFields } from './support/model';

const T = 1_700_000_000;

/** A MemoryStore that says it is shared (as RedisStore does), with its checks counted. */
function sharedStore(inner = new MemoryStore()): Store & { checks: number } {
  const store = {
    hasOwnClock: false,
    shared: true,
    checks: 0,
    check(request: StoreCheckRequest): Promise<StoreDecision> {
      store.checks++;
      return inner.check(request);
    },
    release: inner.release.bind(inner),
    getLimit: inner.getLimit.bind(inner),
    setLimit: inner.setLimit.bind(inner),
    onLimitChange: inner.onLimitChange.bind(inner),
    close: () => Promise.resolve(),
  };
  return store;
}

function make(options: Partial<RateLimiterOptions> & { store: Store }): RateLimiter {
  return new RateLimiter({ limit: 3, windowSeconds: 60, lease: false, timeoutMs: 5000, ...options });
}

describe('denial cache', () => {
  it('is on by default for a shared store, off for MemoryStore, and denialCache: false turns it off', async () => {
    const onShared = make({ store: sharedStore() });
    const onMemory = new RateLimiter({ limit: 0, windowSeconds: 60 });
    const optedOut = make({ store: sharedStore(), denialCache: false });
    for (const [limiter, source] of [[onShared, 'cache'], [onMemory, 'store'], [optedOut, 'store']] as const) {
      await limiter.updateLimit('c', 0, 60);
      await limiter.check('c', { timestamp: T });
      expect((await limiter.check('c', { timestamp: T })).source).to.equal(source);
      await limiter.close();
    }
  });

  it('refuses a denialCache that is not a boolean, naming the option and the value', () => {
    expect(() => make({ store: sharedStore(), denialCache: 'yes' as unknown as boolean })).to.throw(TypeError, /options\.denialCache must be a boolean; got .*yes/);
  });

  it('a flood over the limit costs the store one denial until retryAfter, then the store decides again', async () => {
    const store = sharedStore();
    const limiter = make({ store });
    for (let i = 0; i < 3; i++) expect((await limiter.check('c', { timestamp: T })).allowed).to.equal(true);
    const denial = await limiter.check('c', { timestamp: T });
    // Buckets of 1 s for a 60 s window: the units of [T, T + 1 s) all leave at T + 60.999.
    expect(denial).to.include({ allowed: false, source: 'store', retryAfter: 60.999 });
    for (let i = 0; i < 1000; i++) {
      const d = await limiter.check('c', { timestamp: T + 59.999 * (i / 1000) });
      expect(d).to.include({ allowed: false, source: 'cache' });
    }
    expect(store.checks, 'store checks: 3 allowed, 1 denied').to.equal(4);
    const later = await limiter.check('c', { timestamp: T + 60.999 });
    expect(later).to.include({ allowed: true, source: 'store' });
    expect(store.checks).to.equal(5);
    await limiter.close();
  });

  it('answers what the store would, to the field, from the request time: retryAfter and resetAfter count down', async () => {
    const limiter = make({ store: sharedStore() });
    for (let i = 0; i < 3; i++) await limiter.check('c', { timestamp: T });
    await limiter.check('c', { timestamp: T });
    const d = await limiter.check('c', { timestamp: T + 20 });
    expect(d).to.deep.include({ allowed: false, limit: 3, remaining: 0, timestamp: T + 20, retryAfter: 40.999, resetAfter: 40.999, source: 'cache' });
    await limiter.close();
  });

  it('asks the store for another cost, and for a late request (only the store knows the client clock)', async () => {
    const store = sharedStore();
    const limiter = make({ store });
    for (let i = 0; i < 3; i++) await limiter.check('c', { timestamp: T + 10 });
    await limiter.check('c', { timestamp: T + 10 });
    const before = store.checks;
    expect((await limiter.check('c', { timestamp: T + 10, cost: 2 })).source).to.equal('store');
    expect((await limiter.check('c', { timestamp: T + 9 })).source).to.equal('store');
    expect(store.checks).to.equal(before + 2);
    await limiter.close();
  });

  it('forgets a denial when the limit changes here or on another instance (the change channel)', async () => {
    const inner = new MemoryStore();
    const a = make({ store: sharedStore(inner) });
    const b = make({ store: sharedStore(inner) });
    for (const limiter of [a, b]) for (let i = 0; i < 4; i++) await limiter.check('c', { timestamp: T });
    expect((await b.check('c', { timestamp: T })).source).to.equal('cache');
    await a.updateLimit('c', 10, 60);
    expect(await a.check('c', { timestamp: T })).to.include({ allowed: true, source: 'store' });
    expect(await b.check('c', { timestamp: T })).to.include({ allowed: true, source: 'store' });
    await a.close();
    await b.close();
  });

  it('asks the store when the adaptive factor differs from the one the denial was made with', () => {
    const cache = new DenialCache();
    const denial: Decision = { allowed: false, limit: 3, windowSeconds: 60, remaining: 0, retryAfter: 60, resetAfter: 60, timestamp: T, source: 'store' };
    cache.remember('c', denial, 1, 0.5);
    expect(cache.lookup('c', T * 1000, 1, 0.5)?.source).to.equal('cache');
    expect(cache.lookup('c', T * 1000, 1, 1)).to.equal(undefined);
  });

  it('a denial that runs out while its client keeps asking tells, once, how fast it asked; one it stopped asking tells nothing', () => {
    const cache = new DenialCache();
    const denial: Decision = { allowed: false, limit: 3, windowSeconds: 10, remaining: 0, retryAfter: 0.5, resetAfter: 0.5, timestamp: T, source: 'store' };
    const t0 = T * 1000;
    cache.remember('flood', denial, 1, 1);
    cache.remember('quiet', denial, 1, 1);
    // Two requests a ms for the whole denial.
    for (let ms = 0; ms < 500; ms++) {
      cache.lookup('flood', t0 + ms, 1, 1);
      cache.lookup('flood', t0 + ms, 1, 1);
    }
    cache.lookup('quiet', t0 + 10, 1, 1);
    expect(cache.hasLapsed('flood')).to.equal(false);
    expect(cache.lookup('flood', t0 + 500, 1, 1)).to.equal(undefined);
    expect(cache.hasLapsed('flood')).to.equal(true);
    const lapsed = cache.takeLapsed('flood', t0 + 500);
    expect(lapsed?.windowSeconds).to.equal(10);
    expect(lapsed?.unitsPerMs).to.be.within(1.9, 2.1);
    expect(cache.takeLapsed('flood', t0 + 500), 'taken once').to.equal(undefined);
    expect(cache.lookup('quiet', t0 + 500, 1, 1)).to.equal(undefined);
    expect(cache.takeLapsed('quiet', t0 + 500)).to.equal(undefined);
  });

  it('keeps at most its bound of clients, forgetting the oldest denial first', () => {
    const cache = new DenialCache(2);
    const denial: Decision = { allowed: false, limit: 0, windowSeconds: 60, remaining: 0, retryAfter: Infinity, resetAfter: 0, timestamp: T, source: 'store' };
    for (const client of ['a', 'b', 'c']) cache.remember(client, denial, 1, 1);
    expect(cache.size).to.equal(2);
    expect(cache.lookup('a', T * 1000, 1, 1)).to.equal(undefined);
    expect(cache.lookup('c', T * 1000, 1, 1)).to.deep.include({ retryAfter: Infinity, resetAfter: 0, source: 'cache' });
    // Even a request costing more than the limit asks the store again after a window, should a limit change go unheard.
    expect(cache.lookup('c', (T + 60) * 1000, 1, 1)).to.equal(undefined);
  });

  it('never admits more, and every decision equals the store-only one but for source (random sequences, one instance)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 8 }),
        fc.integer({ min: 1, max: 5 }),
        fc.array(fc.record({ dt: fc.integer({ min: -1500, max: 2500 }), cost: fc.integer({ min: 1, max: 3 }), update: fc.option(fc.integer({ min: 0, max: 8 }), { freq: 10 }) }), {
          minLength: 1,
          maxLength: 60,
        }),
        async (limit, windowSeconds, steps) => {
          const cached = make({ limit, windowSeconds, store: sharedStore() });
          const plain = make({ limit, windowSeconds, store: sharedStore(), denialCache: false });
          let t = T * 1000;
          try {
            for (const [i, step] of steps.entries()) {
              if (step.update !== null) {
                await cached.updateLimit('c', step.update, windowSeconds);
                await plain.updateLimit('c', step.update, windowSeconds);
              }
              t += Math.max(0, step.dt);
              const at = (t + Math.min(0, step.dt)) / 1000;
              const got = await cached.check('c', { timestamp: at, cost: step.cost });
              const want = await plain.check('c', { timestamp: at, cost: step.cost });
              expect(decisionFields(got), `step ${i}`).to.deep.equal(decisionFields(want));
            }
          } finally {
            await cached.close();
            await plain.close();
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  it('counts its denials in the metrics under source cache', async () => {
    const limiter = make({ store: sharedStore(), metrics: { prometheus: false } });
    for (let i = 0; i < 10; i++) await limiter.check('c', { timestamp: T });
    const { totals } = statusSnapshot(limiter);
    expect(totals.bySource.cache).to.deep.equal({ allowed: 0, denied: 6 });
    expect(totals.bySource.store).to.deep.equal({ allowed: 3, denied: 1 });
    await limiter.close();
  });

  it('tryCheckSync answers a remembered denial synchronously (the HTTP path allocates no promise)', async () => {
    let now = T;
    const limiter = make({ store: sharedStore(), now: () => now });
    expect(limiter.tryCheckSync('c'), 'nothing to answer locally yet').to.equal(undefined);
    for (let i = 0; i < 4; i++) await limiter.check('c');
    now = T + 1;
    expect(limiter.tryCheckSync('c')).to.deep.include({ allowed: false, source: 'cache', retryAfter: 59.999 });
    expect(limiter.tryCheckSync('c', 2), 'another cost').to.equal(undefined);
    await limiter.close();
  });
});
