/**
 * RateLimiter in policy mode on the embedded MemoryStore, with an injected clock: the decision's
 * binding policy and retryAfter, validation, shadow mode, reserve/settle, tiers with per-client
 * overrides, and leases that respect every policy.
 */
import { expect } from 'chai';
import { RateLimiter } from '../src/rate-limiter';
import { MemoryStore } from '../src/stores/memory-store';
import type { PolicyDecision } from '../src/policies/policy-types';

const decide = async (limiter: RateLimiter, id: string, timestamp: number, cost = 1): Promise<PolicyDecision> =>
  (await limiter.check(id, { timestamp, cost })) as PolicyDecision;

describe('RateLimiter with several policies per client (policy mode)', () => {
  const limiters: RateLimiter[] = [];
  // 1 ms buckets unless a test says otherwise: the figures below read exact to the ms (the default
  // buckets are covered by the model-based equivalence, policy-memory.test.ts).
  const make = (options: ConstructorParameters<typeof RateLimiter>[0]): RateLimiter => {
    const limiter = new RateLimiter({ bucketMs: 1, ...options });
    limiters.push(limiter);
    return limiter;
  };
  afterEach(async () => {
    for (const l of limiters.splice(0)) await l.close();
  });

  describe('validation', () => {
    it('refuses bad policies with errors that name the argument', () => {
      expect(() => new RateLimiter({ policies: [] })).to.throw(RangeError, /options\.policies must hold 1 to 8 policies; got 0/);
      expect(() => new RateLimiter({ policies: [{ limit: 1, windowSeconds: 5 }, { limit: 2, windowSeconds: 5 }] })).to.throw(RangeError, /two policies with windowSeconds 5/);
      const nine = Array.from({ length: 9 }, (_, i) => ({ limit: 1, windowSeconds: i + 1 }));
      expect(() => new RateLimiter({ policies: nine })).to.throw(RangeError, /1 to 8 policies; got 9/);
      expect(() => new RateLimiter({ policies: [{ limit: -1, windowSeconds: 5 }] })).to.throw(RangeError, /policies\[0\]\.limit/);
      expect(() => new RateLimiter({ policies: 'x' as never })).to.throw(TypeError, /options\.policies must be an array/);
      expect(() => new RateLimiter({ policies: [{ limit: 1, windowSeconds: 1 }], limit: 1 } as never)).to.throw(TypeError, /either policies or limit/);
      expect(() => new RateLimiter({ policies: [{ limit: 1, windowSeconds: 1 }], algorithm: 'sliding-counter' })).to.throw(RangeError, /need algorithm 'sliding-window'/);
      expect(() => new RateLimiter({ limit: 1, windowSeconds: 1, tiers: { 'bad name': [{ limit: 1, windowSeconds: 1 }] } })).to.throw(RangeError, /tiers key/);
    });

    it('refuses policy-mode calls on a single-policy limiter, and bad configs and settles', async () => {
      const single = make({ limit: 1, windowSeconds: 1 });
      await expectReject(single.updatePolicies('a', [{ limit: 1, windowSeconds: 2 }]), TypeError, /needs policy mode/);
      const limiter = make({ policies: [{ limit: 5, windowSeconds: 1 }], tiers: { pro: [{ limit: 1, windowSeconds: 1 }, { limit: 2, windowSeconds: 2 }] } });
      await expectReject(limiter.updatePolicies('a', { tier: 'pro', policies: Array.from({ length: 7 }, (_, i) => ({ limit: 1, windowSeconds: 10 + i })) }), RangeError, /would give 9 policies/);
      await expectReject(limiter.updatePolicies('a', { colour: 'red' } as never), TypeError, /unknown option policies\.colour/);
      const reservation = await limiter.reserve('a', { estimate: 2, timestamp: 100 });
      await expectReject(limiter.settle(reservation, -1), RangeError, /settle actualCost/);
      await expectReject(limiter.reserve('a', { estimate: 0 }), RangeError, /reserve options\.estimate/);
      expect(await limiter.settle(reservation, 1)).to.equal(-1);
      await expectReject(limiter.settle(reservation, 1), RangeError, /already settled/);
    });
  });

  it('allows only when every policy allows, and records nothing otherwise', async () => {
    const limiter = make({ policies: [{ limit: 2, windowSeconds: 1 }, { limit: 3, windowSeconds: 10 }] });
    expect((await decide(limiter, 'c', 100)).allowed).to.equal(true);
    expect((await decide(limiter, 'c', 100)).allowed).to.equal(true);
    const perSecond = await decide(limiter, 'c', 100);
    expect(perSecond).to.include({ allowed: false, limit: 2, windowSeconds: 1, retryAfter: 1 });
    expect(perSecond.policy).to.deep.equal({ limit: 2, windowSeconds: 1 });
    expect(perSecond.policies.map((p) => [p.windowSeconds, p.remaining, p.allows])).to.deep.equal([
      [1, 0, false],
      [10, 1, true],
    ]);
    const next = await decide(limiter, 'c', 101);
    expect(next).to.include({ allowed: true, limit: 3, windowSeconds: 10, remaining: 0 });
    // The 10 s policy denies now; the denied request at 101 recorded nothing in the 1 s policy.
    const tenSeconds = await decide(limiter, 'c', 102);
    expect(tenSeconds).to.include({ allowed: false, windowSeconds: 10, retryAfter: 8 });
    expect(tenSeconds.policies[0]).to.include({ windowSeconds: 1, remaining: 2, allows: true });
  });

  it('retryAfter is the least wait after which every policy allows at once, not the first that clears', async () => {
    // 1 per 2 s and 2 per 10 s: at 3 the 2 s policy clears after 1 s, but the 10 s one only at 10.
    const limiter = make({ policies: [{ limit: 1, windowSeconds: 2 }, { limit: 2, windowSeconds: 10 }] });
    await decide(limiter, 'r', 0);
    await decide(limiter, 'r', 2);
    const denied = await decide(limiter, 'r', 3);
    expect(denied).to.include({ allowed: false, retryAfter: 7, windowSeconds: 10 });
    expect(denied.policies.map((p) => p.allows)).to.deep.equal([false, false]);
    expect((await decide(limiter, 'r', 3 + denied.retryAfter - 1)).allowed, 'one second earlier').to.equal(false);
    expect((await decide(limiter, 'r', 3 + denied.retryAfter)).allowed, 'after retryAfter').to.equal(true);
    // A cost no policy can ever hold: Infinity.
    expect((await decide(limiter, 'r', 50, 3)).retryAfter).to.equal(Infinity);
  });

  it('updateLimit is the one-policy form of updatePolicies; getPolicies reports what applies', async () => {
    const limiter = make({ policies: [{ limit: 10, windowSeconds: 1 }, { limit: 100, windowSeconds: 60 }] });
    await limiter.updateLimit('one', 1, 5);
    expect(await limiter.getPolicies('one')).to.deep.equal({ policies: [{ limit: 1, windowSeconds: 5 }], own: [{ limit: 1, windowSeconds: 5 }], shadow: false });
    expect(await limiter.getLimit('one')).to.deep.equal({ limit: 1, windowSeconds: 5 });
    expect((await decide(limiter, 'one', 0)).allowed).to.equal(true);
    expect(await decide(limiter, 'one', 1)).to.include({ allowed: false, retryAfter: 4 });
    expect((await limiter.getPolicies('other')).policies).to.deep.equal([{ limit: 10, windowSeconds: 1 }, { limit: 100, windowSeconds: 60 }]);
  });

  it('MemoryStore forgets a policy-mode client after its longest window of inactivity (sweep)', async () => {
    let now = 1_000;
    const store = new MemoryStore({ sweepIntervalMs: 0, now: () => now });
    const limiter = make({ policies: [{ limit: 1, windowSeconds: 10 }, { limit: 5, windowSeconds: 100 }], store, now: () => now });
    await limiter.check('idle');
    expect(store.size).to.equal(1);
    // At least the longest window plus its bucket (W + g <= 2 W): 200 s here.
    now += 199;
    store.sweep();
    expect(store.size, 'still inside the 100 s window plus its bucket').to.equal(1);
    now += 2;
    store.sweep();
    expect(store.size).to.equal(0);
    await store.close();
  });

  describe('shadow mode', () => {
    it('per limiter: never blocks, says what it would have decided, and records nothing for a would-be denial', async () => {
      const store = new MemoryStore({ sweepIntervalMs: 0 });
      const shadow = make({ policies: [{ limit: 2, windowSeconds: 10 }], store, shadow: true });
      const real = make({ policies: [{ limit: 2, windowSeconds: 10 }], store });
      const first = await decide(shadow, 's', 100);
      expect(first).to.include({ allowed: true, shadow: true, wouldAllow: true, remaining: 1 });
      await decide(shadow, 's', 100);
      for (let i = 0; i < 5; i++) {
        const over = await decide(shadow, 's', 101);
        expect(over).to.include({ allowed: true, shadow: true, wouldAllow: false, retryAfter: 0, remaining: 0 });
        expect(await shadow.isAllowed('s', 101)).to.equal(true);
      }
      // The real limiter on the same store sees 2 units, not 2 + the would-be denials.
      const seen = await decide(real, 's', 105);
      expect(seen).to.include({ allowed: false, remaining: 0, retryAfter: 5 });
    });

    it('per limiter without policy mode too', async () => {
      const limiter = make({ limit: 1, windowSeconds: 10, shadow: true });
      expect(await limiter.check('x', { timestamp: 5 })).to.include({ allowed: true, shadow: true, wouldAllow: true });
      expect(await limiter.check('x', { timestamp: 5 })).to.include({ allowed: true, shadow: true, wouldAllow: false });
    });

    it('per client: only that client is shadowed', async () => {
      const limiter = make({ policies: [{ limit: 1, windowSeconds: 10 }] });
      await limiter.updatePolicies('trial', { shadow: true });
      await decide(limiter, 'trial', 0);
      expect(await decide(limiter, 'trial', 1)).to.include({ allowed: true, shadow: true, wouldAllow: false });
      await decide(limiter, 'plain', 0);
      const plain = await decide(limiter, 'plain', 1);
      expect(plain.allowed).to.equal(false);
      expect(plain.shadow).to.equal(undefined);
    });
  });

  describe('reserve and settle', () => {
    it('refunds the difference at the reservation second', async () => {
      const limiter = make({ policies: [{ limit: 10, windowSeconds: 60 }, { limit: 100, windowSeconds: 3600 }] });
      const reservation = await limiter.reserve('llm', { estimate: 8, timestamp: 1000 });
      expect(reservation).to.include({ recorded: true, estimate: 8, at: 1000 });
      expect(reservation.decision.remaining).to.equal(2);
      expect(await limiter.settle(reservation, 3)).to.equal(-5);
      expect(await decide(limiter, 'llm', 1001)).to.include({ allowed: true, remaining: 6 });
    });

    it('charges past the limit: the client stays denied until enough slides out', async () => {
      const limiter = make({ policies: [{ limit: 10, windowSeconds: 60 }] });
      const reservation = await limiter.reserve('llm', { estimate: 5, timestamp: 1000 });
      expect(await limiter.settle(reservation, 25)).to.equal(20);
      const denied = await decide(limiter, 'llm', 1030);
      // 25 units at 1000 in a window of 10: denied until they leave at 1060.
      expect(denied).to.include({ allowed: false, remaining: 0, retryAfter: 30 });
      expect((await decide(limiter, 'llm', 1059)).allowed).to.equal(false);
      expect((await decide(limiter, 'llm', 1060)).allowed).to.equal(true);
    });

    it('changes nothing once the reservation second has left every window, or when nothing was recorded', async () => {
      const limiter = make({ policies: [{ limit: 10, windowSeconds: 60 }] });
      const old = await limiter.reserve('late', { estimate: 5, timestamp: 1000 });
      await decide(limiter, 'late', 1060);
      await limiter.settle(old, 100);
      expect(await decide(limiter, 'late', 1061)).to.include({ allowed: true, remaining: 8 });
      const denied = await limiter.reserve('late', { estimate: 50, timestamp: 1061 });
      expect(denied).to.include({ recorded: false });
      expect(await limiter.settle(denied, 1)).to.equal(0);
      const shadow = make({ policies: [{ limit: 1, windowSeconds: 60 }], shadow: true });
      await shadow.reserve('s', { estimate: 1, timestamp: 0 });
      const wouldDeny = await shadow.reserve('s', { estimate: 1, timestamp: 0 });
      expect(wouldDeny).to.include({ recorded: false });
      expect(wouldDeny.decision).to.include({ allowed: true, wouldAllow: false });
    });
  });

  describe('tiers', () => {
    it('clients on a tier share its policies; per-client policies are laid over it by window', async () => {
      const limiter = make({
        policies: [{ limit: 1, windowSeconds: 60 }],
        tiers: { pro: [{ limit: 100, windowSeconds: 60 }, { limit: 1000, windowSeconds: 3600 }] },
      });
      await limiter.updatePolicies('p1', { tier: 'pro' });
      await limiter.updatePolicies('p2', { tier: 'pro', policies: [{ limit: 5, windowSeconds: 60 }, { limit: 2, windowSeconds: 1 }] });
      await limiter.updatePolicies('ghost', { tier: 'nobody-knows' });
      expect((await limiter.getPolicies('p1')).policies).to.deep.equal([{ limit: 100, windowSeconds: 60 }, { limit: 1000, windowSeconds: 3600 }]);
      expect((await limiter.getPolicies('p2')).policies).to.deep.equal([
        { limit: 2, windowSeconds: 1 },
        { limit: 5, windowSeconds: 60 },
        { limit: 1000, windowSeconds: 3600 },
      ]);
      expect((await limiter.getPolicies('ghost')).policies, 'an unknown tier falls back to the defaults').to.deep.equal([{ limit: 1, windowSeconds: 60 }]);
      expect(await decide(limiter, 'p1', 0)).to.include({ allowed: true, remaining: 99 });
      expect(await decide(limiter, 'p2', 0, 3)).to.include({ allowed: false, windowSeconds: 1 });
    });

    it('setTier changes every client on the tier, on every limiter sharing the store, from the next decision', async () => {
      const store = new MemoryStore({ sweepIntervalMs: 0 });
      const a = make({ policies: [{ limit: 1, windowSeconds: 60 }], tiers: { free: [{ limit: 2, windowSeconds: 60 }] }, store });
      const b = make({ policies: [{ limit: 1, windowSeconds: 60 }], tiers: { free: [{ limit: 2, windowSeconds: 60 }] }, store });
      await a.updatePolicies('f', { tier: 'free' });
      expect((await decide(b, 'f', 0)).limit).to.equal(2);
      await a.setTier('free', [{ limit: 7, windowSeconds: 60 }, { limit: 50, windowSeconds: 3600 }]);
      expect(b.tiers.free).to.deep.equal([{ limit: 7, windowSeconds: 60 }, { limit: 50, windowSeconds: 3600 }]);
      const after = await decide(b, 'f', 1);
      expect(after).to.include({ allowed: true, limit: 7, remaining: 5 });
      expect(after.policies.map((p) => p.windowSeconds)).to.deep.equal([60, 3600]);
      // The new 1 h window starts from what the old 60 s window held: both units count.
      expect(after.policies[1]).to.include({ remaining: 48 });
      await a.setTier('free', undefined);
      expect(a.tiers.free, 'removing the stored tier falls back to the option tier').to.deep.equal([{ limit: 2, windowSeconds: 60 }]);
    });
  });

  describe('leases', () => {
    it('a lease grant fits every policy: two leasing instances never admit more than any policy allows in any window', async () => {
      const store = new MemoryStore({ sweepIntervalMs: 0 });
      let nowMs = 1_000_000;
      const policies = [
        { limit: 20, windowSeconds: 1 },
        { limit: 50, windowSeconds: 5 },
        { limit: 120, windowSeconds: 30 },
      ];
      const instances = [0, 1].map(() => make({ policies, store, lease: { maxUnits: 10, share: 0.5 }, now: () => nowMs / 1000 }));
      const admitted: number[] = [];
      let fromLease = 0;
      for (let step = 0; step < 3000; step++) {
        nowMs += 37;
        const limiter = instances[step % 2] as RateLimiter;
        const d = await limiter.check('hot', { timestamp: Math.floor(nowMs / 1000), cost: 1 + (step % 3 === 0 ? 1 : 0) });
        if (d.allowed) for (let u = 0; u < 1 + (step % 3 === 0 ? 1 : 0); u++) admitted.push(d.timestamp);
        if (d.source === 'lease') fromLease++;
      }
      expect(fromLease, 'leases decided some requests').to.be.greaterThan(100);
      for (const { limit, windowSeconds } of policies) {
        const first = admitted[0] as number;
        const last = admitted[admitted.length - 1] as number;
        for (let s = first; s <= last; s++) {
          const inWindow = admitted.filter((at) => at > s - windowSeconds && at <= s).length;
          expect(inWindow, `window (${s - windowSeconds}, ${s}] of ${limit}/${windowSeconds}s`).to.be.at.most(limit);
        }
      }
    });
  });
});

async function expectReject(promise: Promise<unknown>, type: new (...args: never[]) => Error, message: RegExp): Promise<void> {
  try {
    await promise;
  } catch (error) {
    expect(error).to.be.instanceOf(type);
    expect((error as Error).message).to.match(message);
    return;
  }
  expect.fail(`expected a rejection matching ${String(message)}`);
}
