import { expect } from 'chai';
import { Registry } from 'prom-client';
import type { RequestAccess } from '../src/http/http-limiter';
import { decideEach, NamedHttpLimits, routeLimitsOf, routeSkipsOf, type RouteLevel } from '../src/http/named-limits';
import type { HttpOutcome } from '../src/http/types';
import { MemoryStore } from '../src/stores/memory-store';

interface FakeRequest {
  ip: string;
}
const access: RequestAccess<FakeRequest> = { ip: (req) => req.ip, forwardedForIgnored: () => false };
const LABELS = { options: 'limits options', owner: 'the module', own: '@Own()', skip: '@Skip()' };
const TWO = [{ name: 'short', limit: 2, windowSeconds: 10 }, { name: 'long', limit: 3, windowSeconds: 60 }];
const level = (site: string, more: Omit<RouteLevel, 'site'> = {}): RouteLevel => ({ site, ...more });

describe('http NamedHttpLimits: several named limits, skipped or replaced per route', () => {
  const open: NamedHttpLimits<FakeRequest>[] = [];
  const make = (options: ConstructorParameters<typeof NamedHttpLimits<FakeRequest>>[0]) => {
    const limits = new NamedHttpLimits<FakeRequest>(options, access, LABELS);
    open.push(limits);
    return limits;
  };
  after(async () => {
    await Promise.all(open.map((limits) => limits.close()));
  });

  it("one limit is named 'default'; several keep their order, each under its own prefix", () => {
    expect(make({ limit: 1, windowSeconds: 1 }).names).to.deep.equal(['default']);
    const limits = make({ prefix: 'app:', limits: TWO });
    expect(limits.names).to.deep.equal(['short', 'long']);
    expect([limits.limiter('short').keyFor('k'), limits.limiter('long').keyFor('k')]).to.deep.equal(['~10:app:short:k', '~9:app:long:k']);
    expect(() => limits.limiter('medium')).to.throw(TypeError, 'slidegate: no limit named "medium"; the module has short, long');
  });

  it('refuses limits without unique names, naming the option', () => {
    expect(() => make({ limits: [] })).to.throw(TypeError, /limits options\.limits must be a non-empty array/);
    expect(() => make({ limits: [TWO[0]!, TWO[0]!] })).to.throw(TypeError, /limits options\.limits\[1\]\.name must be a unique non-empty string; got short/);
    expect(() => make({ limits: [{ ...TWO[0]!, windowSeconds: 0 }] })).to.throw(RangeError, /limits options\.limits\[0\]\.windowSeconds/);
  });

  it("a handler's word over its controller's; own limits are new limiters, one per site; unknown names are refused", async () => {
    const limits = make({ limits: TWO });
    const [short, long] = [limits.limiter('short'), limits.limiter('long')];
    expect(limits.forRoute(level('C.h'), level('C'))).to.deep.equal([short, long]);
    expect(limits.forRoute(level('C.h'), level('C', { skip: { '*': true } }))).to.deep.equal([]);
    expect(limits.forRoute(level('C.h', { skip: { long: false } }), level('C', { skip: { '*': true } }))).to.deep.equal([long]);
    const own = limits.forRoute(level('C.h', { own: { long: { limit: 1, windowSeconds: 5 } } }), level('C', { own: { long: { limit: 9, windowSeconds: 5 } } }));
    expect(own[0]).to.equal(short);
    expect([await own[1]!.getLimit('k'), own[1]!.keyFor('k')]).to.deep.equal([{ limit: 1, windowSeconds: 5 }, '~9:long:C.h:k']);
    const controllers = limits.forRoute(level('C.a'), level('C', { own: { long: { limit: 9, windowSeconds: 5 } } }));
    expect(limits.forRoute(level('C.b'), level('C', { own: { long: { limit: 9, windowSeconds: 5 } } }))[1]).to.equal(controllers[1]);
    expect(() => limits.forRoute(level('C.h', { own: { lnog: { limit: 1, windowSeconds: 1 } } }), level('C'))).to.throw(
      TypeError,
      'slidegate: @Own() on C.h names limit "lnog", which the module does not have; it has short, long',
    );
  });

  it('metrics given beside the limits serve each limit and each own limit under a name of its own', () => {
    const registry = new Registry();
    const limits = make({ store: new MemoryStore({ sweepIntervalMs: 0 }), limiterOptions: { metrics: { registry, name: 'api' } }, limits: TWO });
    const own = limits.forRoute(level('C.h', { own: { short: { limit: 1, windowSeconds: 1 } } }), level('C'))[0]!;
    const limiters = [limits.limiter('short'), limits.limiter('long'), own];
    expect(limiters.map((http) => http.limiter.metrics?.name)).to.deep.equal(['api:short', 'api:long', 'api:short:C.h']);
  });

  it('decorator arguments: one limit or limits by name, skips by name; mistakes named where they are written', () => {
    expect(routeLimitsOf({ limit: 1, windowSeconds: 2 }, '@Own()')).to.deep.equal({ default: { limit: 1, windowSeconds: 2 } });
    expect(routeLimitsOf({ short: { limit: 1, windowSeconds: 2 } }, '@Own()')).to.deep.equal({ short: { limit: 1, windowSeconds: 2 } });
    expect(() => routeLimitsOf({ short: { limit: 1, windowSeconds: 1.5 } }, '@Own()')).to.throw(RangeError, /@Own\(\)\.short\.windowSeconds .*got number 1.5/);
    expect(() => routeLimitsOf(null, '@Own()')).to.throw(TypeError, /@Own\(\) takes \{ limit, windowSeconds \} or limits by name; got null/);
    expect(routeSkipsOf(undefined, '@Skip()')).to.deep.equal({ '*': true });
    expect(() => routeSkipsOf({ short: 'yes' }, '@Skip()')).to.throw(TypeError, /@Skip\(\)\.short must be a boolean; got string/);
  });

  it('decideEach hands every outcome to apply in order, without a promise while decisions are in-process', async () => {
    const limits = make({ limits: TWO });
    const seen: string[] = [];
    const apply = (outcome: HttpOutcome) => {
      seen.push(outcome.kind);
      if (outcome.kind === 'limited') throw new Error('limited');
    };
    const route = limits.forRoute(level('C.h'), level('C'));
    expect(decideEach(route, { ip: '192.0.2.1' }, apply)).to.equal(true);
    expect(decideEach(route, { ip: '192.0.2.1' }, apply)).to.equal(true);
    expect(() => decideEach(route, { ip: '192.0.2.1' }, apply)).to.throw('limited');
    expect(seen).to.deep.equal(['allowed', 'allowed', 'allowed', 'allowed', 'limited']);
    const slow = make({ limit: 1, windowSeconds: 1, keyGenerator: async () => 'k' });
    const pending = decideEach([slow.limiter()], { ip: '192.0.2.1' }, apply);
    expect(pending).to.be.instanceOf(Promise);
    expect(await pending).to.equal(true);
  });
});
