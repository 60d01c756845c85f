import { expect } from 'chai';
import { HttpLimiter, type RequestAccess } from '../src/http/http-limiter';
import type { HttpOutcome, HttpRateLimitOptions } from '../src/http/types';
import { RateLimiter } from '../src/rate-limiter';
import { MemoryStore } from '../src/stores/memory-store';
import type { Store } from '../src/types';

interface FakeRequest {
  ip?: string;
  forwardedFor?: boolean;
  trustProxy?: boolean;
  apiKey?: string;
  weight?: unknown;
}
const access: RequestAccess<FakeRequest> = {
  ip: (req) => req.ip,
  forwardedForIgnored: (req) => req.forwardedFor === true && req.trustProxy !== true,
};
const make = (options: HttpRateLimitOptions<FakeRequest, () => void>) => new HttpLimiter<FakeRequest, () => void>(options, access, 'rateLimit options');
const kinds = async (http: HttpLimiter<FakeRequest, () => void>, req: FakeRequest, n: number) => {
  const seen: string[] = [];
  for (let i = 0; i < n; i++) seen.push((await http.evaluate(req)).kind);
  return seen;
};

/** Collects process warnings emitted while `fn` runs. */
async function warningsDuring(fn: () => Promise<void>): Promise<Array<{ code: string | undefined; message: string }>> {
  const seen: Array<{ code: string | undefined; message: string }> = [];
  const listener = (warning: Error & { code?: string }) => seen.push({ code: warning.code, message: warning.message });
  process.on('warning', listener);
  try {
    await fn();
    await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
  } finally {
    process.off('warning', listener);
  }
  return seen;
}

/** An in-process store that fails: through check's promise ('async', no checkSync), or in checkSync ('sync'). */
const failingStore = (error: Error, how: 'async' | 'sync'): Store => {
  const store = new MemoryStore({ sweepIntervalMs: 0 });
  const checkSync = how === 'sync' ? () => { throw error; } : undefined;
  return Object.assign(Object.create(store) as Store, { hasOwnClock: false, check: () => Promise.reject(error), checkSync });
};

describe('http HttpLimiter: the shared adapter layer', () => {
  const open: HttpLimiter<FakeRequest, () => void>[] = [];
  const track = (http: HttpLimiter<FakeRequest, () => void>) => (open.push(http), http);
  after(async () => {
    await Promise.all(open.map((http) => http.close()));
  });

  describe('options refused at construction, naming the option and value', () => {
    const cases: Array<[string, unknown, ErrorConstructor, RegExp]> = [
      ['no limit', { windowSeconds: 60 }, TypeError, /rateLimit options needs limit and windowSeconds.*got limit undefined/],
      ['negative limit', { limit: -1, windowSeconds: 60 }, RangeError, /rateLimit options\.limit .*got number -1/],
      ['window 0', { limit: 1, windowSeconds: 0 }, RangeError, /rateLimit options\.windowSeconds .*got number 0/],
      ['limiter and limit', { limiter: new RateLimiter({ limit: 1, windowSeconds: 1 }), limit: 2 }, TypeError, /both limiter and limit/],
      ['limiter not a RateLimiter', { limiter: {} }, TypeError, /rateLimit options\.limiter must be a RateLimiter.*an object/],
      ['unknown option', { limit: 1, windowSeconds: 1, max: 5 }, TypeError, /unknown option rateLimit options\.max/],
      ['both windows', { limit: 1, windowSeconds: 1, windowMs: 1000 }, TypeError, /gives both windowSeconds and windowMs/],
      ['a limit function', { limit: () => 5, windowSeconds: 1 }, TypeError, /limit must be a number; for limits per client, call updateLimit/],
      ['an unreadable duration', { limit: 1, windowSeconds: 'soon' }, RangeError, /windowSeconds must be a whole number of seconds or a duration .*got string "soon"/],
      ['bad header mode', { limit: 1, windowSeconds: 1, headers: 'draft-9' }, RangeError, /rateLimit options\.headers .*'draft-8'.*got string "draft-9"/],
      ['header mode true', { limit: 1, windowSeconds: 1, headers: true }, TypeError, /rateLimit options\.headers .*got boolean/],
      ['statusCode 200', { limit: 1, windowSeconds: 1, statusCode: 200 }, RangeError, /rateLimit options\.statusCode .*got number 200/],
      ['ipv6Subnet 0', { limit: 1, windowSeconds: 1, ipv6Subnet: 0 }, RangeError, /rateLimit options\.ipv6Subnet .*got number 0/],
      ['ipv6Subnet true', { limit: 1, windowSeconds: 1, ipv6Subnet: true }, TypeError, /rateLimit options\.ipv6Subnet .*got boolean/],
      ['cost 0', { limit: 1, windowSeconds: 1, cost: 0 }, RangeError, /rateLimit options\.cost .*got number 0/],
      ['skip not a function', { limit: 1, windowSeconds: 1, skip: true }, TypeError, /rateLimit options\.skip must be a function; got boolean/],
      ['allowList of numbers', { limit: 1, windowSeconds: 1, allowList: [1] }, TypeError, /rateLimit options\.allowList\[0\] must be a string; got number 1/],
      ['message a number', { limit: 1, windowSeconds: 1, message: 5 }, TypeError, /rateLimit options\.message .*got number 5/],
      ['empty name', { limit: 1, windowSeconds: 1, name: '' }, RangeError, /rateLimit options\.name .*got string ""/],
      ['onStoreError typo', { limit: 1, windowSeconds: 1, onStoreError: 'open' }, RangeError, /rateLimit options\.onStoreError .*got string "open"/],
      ['bad algorithm', { limit: 1, windowSeconds: 1, algorithm: 'token-bucket' }, RangeError, /rateLimit options\.algorithm .*"token-bucket"/],
      ['not an object', 'fast', TypeError, /rateLimit options must be an object; got string/],
    ];
    for (const [what, options, type, message] of cases) {
      it(what, () => {
        expect(() => make(options as HttpRateLimitOptions<FakeRequest, () => void>)).to.throw(type, message);
      });
    }
  });

  it('allows exactly the limit per key, then limits with Retry-After from the decision', async () => {
    const http = track(make({ limit: 3, windowSeconds: 60, headers: 'draft-7' }));
    expect(await kinds(http, { ip: '198.51.100.1' }, 5)).to.deep.equal(['allowed', 'allowed', 'allowed', 'limited', 'limited']);
    const limited = (await http.evaluate({ ip: '198.51.100.1' })) as Extract<HttpOutcome, { kind: 'limited' }>;
    expect(limited.statusCode).to.equal(429);
    expect(limited.body).to.deep.equal({ contentType: 'text/plain; charset=utf-8', text: 'Too many requests, please try again later.' });
    const retryAfter = limited.headers.find((h) => h.name === 'Retry-After');
    // The decision's ms-precise wait, rounded up to whole seconds.
    expect(retryAfter?.value).to.equal(String(Math.ceil(limited.info?.decision.retryAfter as number)));
    expect(Number(retryAfter?.value)).to.be.within(60, 61);
    expect(await kinds(http, { ip: '198.51.100.2' }, 1)).to.deep.equal(['allowed']);
  });

  it('cost from a number or an async function; a bad cost result rejects naming it', async () => {
    const http = track(make({ limit: 10, windowSeconds: 60, cost: async (req) => req.weight as number }));
    expect(await kinds(http, { ip: '1.1.1.1', weight: 4 }, 3)).to.deep.equal(['allowed', 'allowed', 'limited']);
    const outcome = (await http.evaluate({ ip: '1.1.1.1', weight: 2 })) as Extract<HttpOutcome, { kind: 'allowed' }>;
    expect(outcome.info.decision.remaining).to.equal(0);
    const error = await http.evaluate({ ip: '1.1.1.2', weight: 1.5 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).to.be.instanceOf(RangeError).and.have.property('message').that.matches(/rateLimit options\.cost\(\) result .*got number 1\.5/);
  });

  it('skip and allowList pass requests uncounted; the allow list also matches the whole client IP', async () => {
    const http = track(
      make({ limit: 1, windowSeconds: 60, skip: (req) => req.apiKey === 'internal', allowList: ['10.0.0.1', '2001:db8::1'] }),
    );
    expect(await kinds(http, { ip: '1.2.3.4', apiKey: 'internal' }, 3)).to.deep.equal(['pass', 'pass', 'pass']);
    expect(await kinds(http, { ip: '::ffff:10.0.0.1' }, 3)).to.deep.equal(['pass', 'pass', 'pass']);
    expect(await kinds(http, { ip: '2001:db8::1' }, 2)).to.deep.equal(['pass', 'pass']);
    expect(await kinds(http, { ip: '2001:db8::2' }, 2)).to.deep.equal(['allowed', 'limited']);
    const byFunction = track(make({ limit: 1, windowSeconds: 60, allowList: async (_req, key) => key.startsWith('10.') }));
    expect(await kinds(byFunction, { ip: '10.9.9.9' }, 2)).to.deep.equal(['pass', 'pass']);
    expect(await kinds(byFunction, { ip: '11.9.9.9' }, 2)).to.deep.equal(['allowed', 'limited']);
  });

  it('keyGenerator results must be non-empty strings; over-long keys are hashed, not refused', async () => {
    const http = track(make({ limit: 1, windowSeconds: 60, keyGenerator: (req) => req.apiKey as string }));
    const error = await http.evaluate({ apiKey: '' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).to.be.instanceOf(TypeError).and.have.property('message').that.matches(/keyGenerator\(\) result must be a non-empty string; got string ""/);
    const long = 'k'.repeat(5000);
    expect(await kinds(http, { apiKey: long }, 2)).to.deep.equal(['allowed', 'limited']);
    expect(http.keyFor(long)).to.match(/^~0#[0-9a-f]{64}$/);
    expect(await kinds(http, { apiKey: `${long}x` }, 1)).to.deep.equal(['allowed']);
  });

  it('name and prefix keep limiters on one store apart, and warn when two would share a key space', async () => {
    const store = new MemoryStore({ sweepIntervalMs: 0 });
    let a!: HttpLimiter<FakeRequest, () => void>;
    let b!: HttpLimiter<FakeRequest, () => void>;
    const separate = await warningsDuring(async () => {
      a = track(make({ limit: 1, windowSeconds: 60, store, name: 'login' }));
      b = track(make({ limit: 1, windowSeconds: 60, store, name: 'search' }));
    });
    expect(separate).to.deep.equal([]);
    expect(await kinds(a, { ip: '5.5.5.5' }, 2)).to.deep.equal(['allowed', 'limited']);
    expect(await kinds(b, { ip: '5.5.5.5' }, 2)).to.deep.equal(['allowed', 'limited']);
    expect(a.keyFor('5.5.5.5')).to.equal('~6:login:5.5.5.5');
    const shared = await warningsDuring(async () => {
      track(make({ limit: 1, windowSeconds: 60, store, prefix: 'login:' }));
    });
    expect(shared.map((w) => w.code)).to.deep.equal(['SLIDEGATE_KEY_SPACE_SHARED']);
    await store.close();
  });

  it('updateLimit through the limiter takes effect on the next request of that key only', async () => {
    const http = track(make({ limit: 1, windowSeconds: 60, name: 'api', keyGenerator: (req) => req.apiKey as string }));
    expect(await kinds(http, { apiKey: 'gold' }, 2)).to.deep.equal(['allowed', 'limited']);
    await http.updateLimit('gold', 3, 60);
    expect(await http.getLimit('gold')).to.deep.equal({ limit: 3, windowSeconds: 60 });
    expect(await kinds(http, { apiKey: 'gold' }, 3)).to.deep.equal(['allowed', 'allowed', 'limited']);
    expect(await kinds(http, { apiKey: 'free' }, 2)).to.deep.equal(['allowed', 'limited']);
  });

  it('warns once with SLIDEGATE_XFF_IGNORED when X-Forwarded-For arrives and trust proxy is off', async () => {
    const http = track(make({ limit: 100, windowSeconds: 60 }));
    const warnings = await warningsDuring(async () => {
      await http.evaluate({ ip: '1.2.3.4', forwardedFor: true, trustProxy: true });
      await http.evaluate({ ip: '1.2.3.4' });
      await http.evaluate({ ip: '1.2.3.4', forwardedFor: true });
      await http.evaluate({ ip: '1.2.3.4', forwardedFor: true });
    });
    expect(warnings.map((w) => w.code)).to.deep.equal(['SLIDEGATE_XFF_IGNORED']);
    expect(warnings[0]?.message).to.match(/trust proxy/);
  });

  for (const how of ['async', 'sync'] as const) {
    it(`a store failure (${how}) fails open by default, warning once per error code; never rejects`, async () => {
      const boom = Object.assign(new Error('connection refused'), { code: 'ECONNREFUSED' });
      const http = track(make({ limit: 1, windowSeconds: 60, store: failingStore(boom, how) }));
      const other = Object.assign(new Error('timeout'), { code: 'ERR_SLIDEGATE_STORE_TIMEOUT' });
      const http2 = track(make({ limit: 1, windowSeconds: 60, store: failingStore(other, how), name: 'b' }));
      const warnings = await warningsDuring(async () => {
        expect(await kinds(http, { ip: '1.2.3.4' }, 3)).to.deep.equal(['pass', 'pass', 'pass']);
        expect(await kinds(http2, { ip: '1.2.3.4' }, 2)).to.deep.equal(['pass', 'pass']);
      });
      expect(warnings.map((w) => w.code)).to.deep.equal(['SLIDEGATE_STORE_FAILED_OPEN', 'SLIDEGATE_STORE_FAILED_OPEN']);
      expect(warnings[0]?.message).to.match(/ECONNREFUSED: connection refused/);
    });

    it(`onStoreError 'deny' answers 503 on a store failure (${how}); a function decides per error`, async () => {
      const boom = new Error('down');
      const deny = track(make({ limit: 1, windowSeconds: 60, store: failingStore(boom, how), onStoreError: 'deny' }));
      const warnings = await warningsDuring(async () => {
        const outcome = (await deny.evaluate({ ip: '1.2.3.4' })) as Extract<HttpOutcome, { kind: 'limited' }>;
        expect(outcome).to.include({ kind: 'limited', statusCode: 503, info: undefined });
      });
      expect(warnings.map((w) => w.code)).to.deep.equal(['SLIDEGATE_STORE_FAILED_CLOSED']);
      const seen: unknown[] = [];
      const byFunction = track(
        make({
          limit: 1,
          windowSeconds: 60,
          store: failingStore(boom, how),
          name: 'fn',
          onStoreError: (error, req) => (seen.push(error), req.apiKey === 'vip' ? 'allow' : 'deny'),
        }),
      );
      await warningsDuring(async () => {
        expect(await kinds(byFunction, { ip: '1.2.3.4', apiKey: 'vip' }, 1)).to.deep.equal(['pass']);
        expect(await kinds(byFunction, { ip: '1.2.3.4' }, 1)).to.deep.equal(['limited']);
      });
      expect(seen).to.deep.equal([boom, boom]);
    });
  }

  it('message as an object is JSON; as a function it sees the decision; onLimited runs before the response', async () => {
    const limitedSeen: number[] = [];
    const http = track(
      make({
        limit: 0,
        windowSeconds: 60,
        message: (_req, decision) => ({ error: 'slow down', limit: decision.limit }),
        onLimited: (_req, decision) => void limitedSeen.push(decision.limit),
      }),
    );
    const outcome = (await http.evaluate({ ip: '1.2.3.4' })) as Extract<HttpOutcome, { kind: 'limited' }>;
    expect(outcome.body).to.deep.equal({ contentType: 'application/json; charset=utf-8', text: '{"error":"slow down","limit":0}' });
    expect(limitedSeen).to.deep.equal([0]);
    // limit 0: retryAfter is Infinity, so no Retry-After (a retry could never pass).
    expect(outcome.headers.map((h) => h.name)).to.not.include('Retry-After');
  });

  it('a shared limiter is used as given and never closed by the middleware', async () => {
    const limiter = new RateLimiter({ limit: 2, windowSeconds: 60 });
    const a = make({ limiter });
    const b = make({ limiter });
    expect(await kinds(a, { ip: '7.7.7.7' }, 1)).to.deep.equal(['allowed']);
    expect(await kinds(b, { ip: '7.7.7.7' }, 2)).to.deep.equal(['allowed', 'limited']);
    await a.close();
    expect(await limiter.isAllowed('someone-else')).to.equal(true);
    await limiter.close();
  });

  describe('decide: synchronous when nothing needs waiting for', () => {
    /** Every user callback, answering synchronously or through a promise. */
    const callbacks = (async: boolean): HttpRateLimitOptions<FakeRequest, () => void> => {
      const answer = <T>(value: T): T | Promise<T> => (async ? Promise.resolve(value) : value);
      return {
        skip: (req) => answer(req.apiKey === 'internal'),
        keyGenerator: (req) => answer(req.apiKey ?? 'anonymous'),
        allowList: (_req, key) => answer(key === 'trusted'),
        cost: (req) => answer(typeof req.weight === 'number' ? req.weight : 1),
        onLimited: () => answer(undefined),
        message: (_req, decision) => answer({ limit: decision.limit }),
      };
    };
    const requests: FakeRequest[] = [
      { apiKey: 'a' },
      { apiKey: 'internal' },
      { apiKey: 'trusted' },
      { apiKey: 'a', weight: 2 },
      { apiKey: 'a' },
      { apiKey: 'b', weight: 4 },
    ];

    it('an in-process store and synchronous callbacks give the outcome itself; any promise among them gives a promise', async () => {
      const limiterOptions = { now: () => 1_700_000_000 };
      const sync = track(make({ limit: 3, windowSeconds: 60, limiterOptions, ...callbacks(false) }));
      const async = track(make({ limit: 3, windowSeconds: 60, limiterOptions, ...callbacks(true) }));
      // a: 1 then 2 of 3 units, then limited; b asks 4 units, more than the limit.
      for (const req of requests) {
        const now = sync.decide(req);
        const later = async.decide(req);
        expect(now).to.not.be.instanceOf(Promise);
        expect(later).to.be.instanceOf(Promise);
        // The same outcomes either way, headers and bodies included.
        expect(await later).to.deep.equal(now);
      }
      expect(requests.map((req) => (sync.decide(req) as HttpOutcome).kind)).to.deep.equal(['limited', 'pass', 'pass', 'limited', 'limited', 'limited']);
    });

    it('a store that answers only through its promise gives a promise, with the same decisions', async () => {
      const store = new MemoryStore({ sweepIntervalMs: 0 });
      const promiseOnly = Object.assign(Object.create(store) as Store, { check: store.check.bind(store), checkSync: undefined });
      const http = track(make({ limit: 2, windowSeconds: 60, store: promiseOnly }));
      const pending = http.decide({ ip: '192.0.2.1' });
      expect(pending).to.be.instanceOf(Promise);
      expect((await pending).kind).to.equal('allowed');
      expect(await kinds(http, { ip: '192.0.2.1' }, 2)).to.deep.equal(['allowed', 'limited']);
      await store.close();
    });

    it('a callback that throws makes decide throw and evaluate reject, with the same error', async () => {
      const boom = new Error('no key');
      const http = track(make({ limit: 1, windowSeconds: 60, keyGenerator: () => { throw boom; } }));
      expect(() => http.decide({})).to.throw(boom);
      expect(await http.evaluate({}).then(() => undefined, (e: unknown) => e)).to.equal(boom);
      const rejecting = track(make({ limit: 1, windowSeconds: 60, cost: () => Promise.reject(boom) }));
      expect(await (rejecting.decide({ ip: '1.2.3.4' }) as Promise<HttpOutcome>).then(() => undefined, (e: unknown) => e)).to.equal(boom);
    });
  });

  describe('RateLimiter.tryCheckSync, the fast path under decide', () => {
    it('decides as check does on an in-process store, and refuses what check refuses', async () => {
      const fast = new RateLimiter({ limit: 5, windowSeconds: 60, now: () => 1_700_000_000 });
      const twin = new RateLimiter({ limit: 5, windowSeconds: 60, now: () => 1_700_000_000 });
      for (const cost of [1, 2, 1, 3, 1]) {
        expect(fast.tryCheckSync('client', cost)).to.deep.equal(await twin.check('client', { cost }));
      }
      expect(() => fast.tryCheckSync('', 1)).to.throw(RangeError, /clientId/);
      expect(() => fast.tryCheckSync('client', 0)).to.throw(RangeError, /cost/);
      await fast.close();
      await twin.close();
      expect(() => fast.tryCheckSync('client')).to.throw(/closed/i);
    });

    it("on the limiter's own MemoryStore and default clock, decides at the current ms", async () => {
      const limiter = new RateLimiter({ limit: 5, windowSeconds: 60, bucketMs: 1 });
      const before = Date.now() / 1000;
      const decision = limiter.tryCheckSync('client', 2);
      expect(decision).to.include({ allowed: true, remaining: 3, resetAfter: 60 });
      expect(decision?.timestamp).to.be.within(before, Date.now() / 1000);
      expect((await limiter.check('client')).remaining).to.equal(2);
      await limiter.close();
    });

    it('relabels in policy and shadow mode as check does', async () => {
      const policies = [{ limit: 2, windowSeconds: 1 }, { limit: 3, windowSeconds: 60 }];
      for (const options of [{ policies }, { policies, shadow: true }, { limit: 1, windowSeconds: 60, shadow: true }]) {
        const fast = new RateLimiter({ ...options, now: () => 1_700_000_000 } as ConstructorParameters<typeof RateLimiter>[0]);
        const twin = new RateLimiter({ ...options, now: () => 1_700_000_000 } as ConstructorParameters<typeof RateLimiter>[0]);
        for (let i = 0; i < 4; i++) expect(fast.tryCheckSync('client')).to.deep.equal(await twin.check('client'));
        await fast.close();
        await twin.close();
      }
    });

    it('is undefined, recording nothing, when the decision needs a promise: leases, or a store without checkSync', async () => {
      const leased = new RateLimiter({ limit: 5, windowSeconds: 60, lease: true });
      expect(leased.tryCheckSync('client')).to.equal(undefined);
      expect((await leased.check('client')).remaining).to.equal(4);
      await leased.close();
      const store = new MemoryStore({ sweepIntervalMs: 0 });
      const promiseOnly = new RateLimiter({ limit: 5, windowSeconds: 60, store: Object.assign(Object.create(store) as Store, { check: store.check.bind(store), checkSync: undefined }) });
      expect(promiseOnly.tryCheckSync('client')).to.equal(undefined);
      expect((await promiseOnly.check('client')).remaining).to.equal(4);
      await promiseOnly.close();
      await store.close();
    });
  });
});
