import { expect } from 'chai';
import { RateLimiter, type Algorithm, type RateLimiterOptions } from '@slidegate/core';
import { storeCases } from './http-support';

const ALGORITHMS: Algorithm[] = ['sliding-window', 'sliding-log', 'sliding-counter'];
const T = 1_700_000_000;

for (const storeCase of storeCases()) {
  describe(`RateLimiter release, reset and peek on the ${storeCase.name}`, () => {
    let opened: Awaited<ReturnType<typeof storeCase.open>>;
    const limiters: RateLimiter[] = [];
    before(async () => {
      opened = await storeCase.open();
    });
    after(async () => {
      await Promise.all(limiters.map((l) => l.close()));
      await opened.close();
    });
    function limiter(options: Omit<RateLimiterOptions, 'store'>): RateLimiter {
      const made = new RateLimiter({ ...opened.limiterOptions, ...options, store: opened.store } as RateLimiterOptions);
      limiters.push(made);
      return made;
    }
    const id = (name: string): string => `${opened.prefix}:${name}`;

    for (const algorithm of ALGORITHMS) {
      it(`${algorithm}: release gives back exactly the units the decision recorded, and nothing for a denial`, async () => {
        const l = limiter({ limit: 2, windowSeconds: 60, algorithm });
        const a = await l.check(id(`rel-${algorithm}`), { timestamp: T });
        const b = await l.check(id(`rel-${algorithm}`), { timestamp: T + 1 });
        const denied = await l.check(id(`rel-${algorithm}`), { timestamp: T + 2 });
        expect([a.allowed, b.allowed, denied.allowed]).to.deep.equal([true, true, false]);
        // A denial recorded nothing: giving it back changes nothing.
        await l.release(id(`rel-${algorithm}`), denied);
        expect((await l.check(id(`rel-${algorithm}`), { timestamp: T + 3 })).allowed).to.equal(false);
        await l.release(id(`rel-${algorithm}`), b);
        const again = await l.check(id(`rel-${algorithm}`), { timestamp: T + 4 });
        expect(again.allowed).to.equal(true);
        expect(again.remaining).to.equal(0);
        expect((await l.check(id(`rel-${algorithm}`), { timestamp: T + 5 })).allowed).to.equal(false);
      });

      it(`${algorithm}: reset forgets the counts and the clock, and keeps the client's own limit`, async () => {
        const l = limiter({ limit: 1, windowSeconds: 60, algorithm });
        const client = id(`reset-${algorithm}`);
        await l.updateLimit(client, 2, 60);
        expect((await l.check(client, { timestamp: T + 10 })).allowed).to.equal(true);
        expect((await l.check(client, { timestamp: T + 10 })).allowed).to.equal(true);
        expect((await l.check(client, { timestamp: T + 10 })).allowed).to.equal(false);
        await l.reset(client);
        // The clock is forgotten too: an earlier timestamp is evaluated at its own time.
        const fresh = await l.check(client, { timestamp: T });
        expect(fresh.allowed).to.equal(true);
        expect(fresh.timestamp).to.equal(T);
        expect(fresh.limit).to.equal(2);
      });

      it(`${algorithm}: peek reads without recording, even for the largest limit`, async () => {
        const l = limiter({ limit: Number.MAX_SAFE_INTEGER, windowSeconds: 60, algorithm });
        const client = id(`peek-${algorithm}`);
        await l.check(client, { timestamp: T, cost: 3 });
        for (let i = 0; i < 3; i++) {
          const seen = await l.peek(client, { timestamp: T + 1 });
          expect(seen.limit - seen.remaining).to.equal(3);
          expect(seen.allowed).to.equal(false);
        }
      });
    }

    it('release and reset in policy mode', async () => {
      const l = limiter({ policies: [{ limit: 1, windowSeconds: 10 }, { limit: 3, windowSeconds: 60 }] } as unknown as Omit<RateLimiterOptions, 'store'>);
      const client = id('policy');
      const first = await l.check(client, { timestamp: T });
      expect(first.allowed).to.equal(true);
      expect((await l.check(client, { timestamp: T + 1 })).allowed).to.equal(false);
      await l.release(client, first);
      expect((await l.check(client, { timestamp: T + 2 })).allowed).to.equal(true);
      await l.reset(client);
      expect((await l.check(client, { timestamp: T + 3 })).allowed).to.equal(true);
    });

    it('release gives back a unit decided from a lease', async () => {
      // share 1: the first check leases the whole remaining quota, so the rest are decided from the lease.
      const l = limiter({ limit: 20, windowSeconds: 60, lease: { share: 1 } });
      const client = id('lease');
      const decisions = [];
      for (let i = 0; i < 20; i++) decisions.push(await l.check(client, { timestamp: T }));
      expect(decisions.every((d) => d.allowed)).to.equal(true);
      const fromLease = decisions[19]!;
      expect(fromLease.source).to.equal('lease');
      expect((await l.check(client, { timestamp: T })).allowed).to.equal(false);
      await l.release(client, fromLease);
      expect((await l.check(client, { timestamp: T })).allowed).to.equal(true);
      expect((await l.check(client, { timestamp: T })).allowed).to.equal(false);
    });

    it('refuses what is not a decision', async () => {
      const l = limiter({ limit: 1, windowSeconds: 60 });
      let error: unknown;
      await l.release(id('bad'), {} as never).catch((e: unknown) => (error = e));
      expect(error).to.be.instanceOf(TypeError);
    });
  });
}
