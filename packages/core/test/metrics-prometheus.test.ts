import { expect } from 'chai';
import { EventEmitter } from 'node:events';
import { Registry } from 'prom-client';
import { MemoryStore, RateLimiter, watchBreaker, type Store } from '../src/index';

/** The value of one series, found by its labels (and, for histograms, its sample name). */
async function value(registry: Registry, metric: string, labels: Record<string, string>, sample = metric): Promise<number | undefined> {
  const m = registry.getSingleMetric(metric);
  if (m === undefined) return undefined;
  const data = await m.get();
  const row = data.values.find(
    (v) => ((v as { metricName?: string }).metricName ?? metric) === sample && Object.entries(labels).every(([k, l]) => String(v.labels[k]) === l),
  );
  return row?.value;
}

describe('metrics: Prometheus counters follow the decisions', () => {
  const closers: RateLimiter[] = [];
  afterEach(async () => {
    for (const l of closers.splice(0)) await l.close();
  });
  function limiter(options: ConstructorParameters<typeof RateLimiter>[0]): RateLimiter {
    const l = new RateLimiter(options);
    closers.push(l);
    return l;
  }

  it('counts a known sequence exactly: 3 allowed, 2 denied, 1 config update, 5 timed decisions', async () => {
    const registry = new Registry();
    const l = limiter({ limit: 3, windowSeconds: 10, metrics: { registry, name: 'api', latencySamplesPerSecond: 1000 } });
    for (let i = 0; i < 5; i++) await l.check('client-a', { timestamp: 100 + i });
    await l.updateLimit('client-b', 10, 60);
    const name = 'api';
    expect(await value(registry, 'slidegate_decisions_total', { name, result: 'allowed', source: 'store' })).to.equal(3);
    expect(await value(registry, 'slidegate_decisions_total', { name, result: 'denied', source: 'store' })).to.equal(2);
    expect(await value(registry, 'slidegate_decisions_total', { name, result: 'allowed', source: 'fallback' })).to.equal(0);
    expect(await value(registry, 'slidegate_decision_duration_seconds', { name }, 'slidegate_decision_duration_seconds_count')).to.equal(5);
    expect(await value(registry, 'slidegate_decision_duration_seconds', { name, le: '0.25' }, 'slidegate_decision_duration_seconds_bucket')).to.equal(5);
    expect(await value(registry, 'slidegate_config_updates_total', { name })).to.equal(1);
    expect(await value(registry, 'slidegate_clients_tracked', { name })).to.equal(1);
    expect(await value(registry, 'slidegate_adaptive_factor', { name })).to.equal(1);
    expect(await value(registry, 'slidegate_breaker_state', { name })).to.equal(0);
    // A second scrape adds nothing: each scrape pushes only what changed since the last.
    expect(await value(registry, 'slidegate_decisions_total', { name, result: 'allowed', source: 'store' })).to.equal(3);
    const text = await registry.metrics();
    expect(text).to.include('slidegate_decisions_total{name="api",result="denied",source="store"} 2');
  });

  it('times at most about latencySamplesPerSecond decisions a second, halving the rate as soon as the budget is spent, still counting all', async () => {
    const registry = new Registry();
    const l = limiter({ limit: 100, windowSeconds: 10, metrics: { registry, name: 'sampled', latencySamplesPerSecond: 2 } });
    for (let i = 0; i < 8; i++) await l.check('c', { timestamp: 100 });
    const count = (): Promise<number | undefined> =>
      value(registry, 'slidegate_decision_duration_seconds', { name: 'sampled' }, 'slidegate_decision_duration_seconds_count');
    // Budget 2: decisions 1 and 2 are timed, then every 2nd (4, 6), then every 4th: 4 of 8, not all 8.
    expect(await count()).to.equal(4);
    l.metrics!.tick(); // what the one-second timer does: 8 decisions in that second, 2 wanted, so 1 in 4 from now
    for (let i = 0; i < 8; i++) await l.check('c', { timestamp: 100 });
    // The 10th and 14th are timed, and the budget spent again halves the rate: 2 more.
    expect(await count()).to.equal(6);
    expect(await value(registry, 'slidegate_decisions_total', { name: 'sampled', result: 'allowed', source: 'store' })).to.equal(16);
  });

  it('counts the clients of a store shared by two limiters once, so their sum is the number of clients (regression)', async () => {
    const registry = new Registry();
    const store = new MemoryStore();
    const a = limiter({ limit: 5, windowSeconds: 60, store, metrics: { registry, name: 'a' } });
    const b = limiter({ limit: 5, windowSeconds: 60, store, metrics: { registry, name: 'b' } });
    for (const id of ['a:1', 'a:2', 'a:3']) await a.check(id, { timestamp: 100 });
    for (const id of ['b:1', 'b:2']) await b.check(id, { timestamp: 100 });
    const tracked = async (name: string): Promise<number> => (await value(registry, 'slidegate_clients_tracked', { name }))!;
    expect((await tracked('a')) + (await tracked('b'))).to.equal(5);
    expect(store.size).to.equal(5);
    // The first limiter closes: the next one counts the store from then on.
    await a.close();
    expect(await tracked('b')).to.equal(store.size);
    await store.close();
  });

  it('keeps several limiters apart on one registry by their name label, and refuses a name in use', async () => {
    const registry = new Registry();
    const a = limiter({ limit: 1, windowSeconds: 10, metrics: { registry, name: 'a' } });
    const b = limiter({ limit: 1, windowSeconds: 10, metrics: { registry, name: 'b' } });
    await a.check('x', { timestamp: 1 });
    await b.check('x', { timestamp: 1 });
    await b.check('x', { timestamp: 1 });
    expect(await value(registry, 'slidegate_decisions_total', { name: 'a', result: 'denied', source: 'store' })).to.equal(0);
    expect(await value(registry, 'slidegate_decisions_total', { name: 'b', result: 'denied', source: 'store' })).to.equal(1);
    expect(() => new RateLimiter({ limit: 1, windowSeconds: 10, metrics: { registry, name: 'a' } }))
      .to.throw(RangeError, /metrics\.name "a" is already used/);
    await a.close();
    // Closed: its gauges leave the registry, its counters keep their totals, and the name is free again.
    expect(await value(registry, 'slidegate_clients_tracked', { name: 'a' })).to.equal(undefined);
    expect(await value(registry, 'slidegate_decisions_total', { name: 'a', result: 'allowed', source: 'store' })).to.equal(1);
    const again = limiter({ limit: 1, windowSeconds: 10, metrics: { registry, name: 'a' } });
    await again.check('y', { timestamp: 1 });
    expect(await value(registry, 'slidegate_decisions_total', { name: 'a', result: 'allowed', source: 'store' })).to.equal(2);
  });

  it('counts what the lease manager, the resilient store and the breaker report through LimiterEvents', async () => {
    const registry = new Registry();
    const l = limiter({ limit: 5, windowSeconds: 10, metrics: { registry, name: 'events', latencySamplesPerSecond: 1000 } });
    const events = l.metrics!;
    events.storeRoundTrip('check', 0.0004);
    events.storeRoundTrip('check', 0.0006);
    events.storeRoundTrip('release', 0.0002);
    events.storeError('ERR_SLIDEGATE_STORE_TIMEOUT');
    events.leaseGranted(10);
    events.leaseGranted(6);
    events.leaseReturned(4);
    const breaker = new EventEmitter();
    const stop = watchBreaker(breaker, events);
    breaker.emit('open');
    expect(await value(registry, 'slidegate_breaker_state', { name: 'events' })).to.equal(2);
    breaker.emit('halfOpen');
    expect(await value(registry, 'slidegate_breaker_state', { name: 'events' })).to.equal(1);
    breaker.emit('close');
    stop();
    breaker.emit('open'); // no longer watched
    const name = 'events';
    expect(await value(registry, 'slidegate_breaker_state', { name })).to.equal(0);
    expect(await value(registry, 'slidegate_breaker_transitions_total', { name })).to.equal(3);
    expect(await value(registry, 'slidegate_store_requests_total', { name, operation: 'check' })).to.equal(2);
    expect(await value(registry, 'slidegate_store_requests_total', { name, operation: 'release' })).to.equal(1);
    expect(await value(registry, 'slidegate_store_duration_seconds', { name, operation: 'check' }, 'slidegate_store_duration_seconds_count')).to.equal(2);
    expect(await value(registry, 'slidegate_store_errors_total', { name, code: 'ERR_SLIDEGATE_STORE_TIMEOUT' })).to.equal(1);
    expect(await value(registry, 'slidegate_lease_grants_total', { name })).to.equal(2);
    expect(await value(registry, 'slidegate_lease_granted_units_total', { name })).to.equal(16);
    expect(await value(registry, 'slidegate_lease_returned_units_total', { name })).to.equal(4);
  });

  it('counts lease decisions under source="lease", and every decision exactly once', async () => {
    const registry = new Registry();
    const l = limiter({ limit: 1000, windowSeconds: 60, lease: true, metrics: { registry, name: 'leased' } });
    let allowed = 0;
    for (let i = 0; i < 200; i++) if ((await l.check('hot', { timestamp: 1000 })).allowed) allowed++;
    const name = 'leased';
    const store = (await value(registry, 'slidegate_decisions_total', { name, result: 'allowed', source: 'store' }))!;
    const lease = (await value(registry, 'slidegate_decisions_total', { name, result: 'allowed', source: 'lease' }))!;
    expect(allowed).to.equal(200);
    expect(store + lease).to.equal(200);
    expect(lease).to.be.greaterThan(0);
  });

  it('counts a failing store end to end: errors by code, fallback decisions, the breaker opening', async () => {
    const registry = new Registry();
    const down: Store = {
      hasOwnClock: false,
      check: () => Promise.reject(new Error('connection refused')),
      release: () => Promise.reject(new Error('connection refused')),
      getLimit: () => Promise.resolve(undefined),
      setLimit: () => Promise.resolve(),
      onLimitChange: () => () => undefined,
      close: () => Promise.resolve(),
    };
    const l = limiter({ limit: 5, windowSeconds: 10, store: down, failureMode: 'open', onError: () => undefined, metrics: { registry, name: 'down' } });
    for (let i = 0; i < 8; i++) expect(await l.check('a', { timestamp: 100 })).to.include({ allowed: true, source: 'fallback' });
    const name = 'down';
    expect(await value(registry, 'slidegate_decisions_total', { name, result: 'allowed', source: 'fallback' })).to.equal(8);
    expect(await value(registry, 'slidegate_breaker_state', { name })).to.equal(2); // open after 5 failures in a row
    const errors = (await registry.getSingleMetric('slidegate_store_errors_total')!.get()).values.filter((v) => v.labels.name === name);
    expect(errors.reduce((sum, v) => sum + v.value, 0)).to.be.at.least(5);
    expect(errors.every((v) => String(v.labels.code).startsWith('ERR_SLIDEGATE_'))).to.equal(true);
    expect(await value(registry, 'slidegate_store_requests_total', { name, operation: 'check' })).to.equal(undefined); // none answered
  });

  it('times the round trips of a store that talks to a server, by operation', async () => {
    const registry = new Registry();
    const memory = new MemoryStore();
    // The same store seen as remote: the limiter wraps it (timeout, breaker) and metrics observe it underneath.
    const remote: Store = {
      hasOwnClock: false,
      check: (r) => memory.check(r),
      release: (...args) => memory.release(...args),
      getLimit: (id) => memory.getLimit(id),
      setLimit: (r) => memory.setLimit(r),
      onLimitChange: (listener) => memory.onLimitChange(listener),
      close: () => memory.close(),
    };
    const l = limiter({ limit: 2, windowSeconds: 10, store: remote, metrics: { registry, name: 'remote' } });
    for (let i = 0; i < 3; i++) await l.check('a', { timestamp: 100 });
    await l.updateLimit('a', 5, 10);
    expect(await l.getLimit('a')).to.deep.equal({ limit: 5, windowSeconds: 10 });
    const name = 'remote';
    expect(await value(registry, 'slidegate_store_requests_total', { name, operation: 'check' })).to.equal(3);
    expect(await value(registry, 'slidegate_store_requests_total', { name, operation: 'setLimit' })).to.equal(1);
    expect(await value(registry, 'slidegate_store_requests_total', { name, operation: 'getLimit' })).to.be.at.least(1);
    expect(await value(registry, 'slidegate_store_duration_seconds', { name, operation: 'check' }, 'slidegate_store_duration_seconds_count')).to.equal(3);
    expect(await value(registry, 'slidegate_decisions_total', { name, result: 'denied', source: 'store' })).to.equal(1);
    await memory.close();
  });

  it('accounts for every leased unit: granted = spent on lease decisions + returned, once the limiter is closed', async () => {
    const registry = new Registry();
    const l = new RateLimiter({ limit: 1000, windowSeconds: 60, lease: true, metrics: { registry, name: 'units' } });
    for (let i = 0; i < 300; i++) await l.check(`hot-${i % 3}`, { timestamp: 1000 });
    // 3 clients in the MemoryStore, and the same 3 holding leases here.
    expect(await value(registry, 'slidegate_clients_tracked', { name: 'units' })).to.equal(6);
    await l.close();
    const name = 'units';
    const granted = (await value(registry, 'slidegate_lease_granted_units_total', { name }))!;
    const returned = (await value(registry, 'slidegate_lease_returned_units_total', { name }))!;
    const spent = (await value(registry, 'slidegate_decisions_total', { name, result: 'allowed', source: 'lease' }))!;
    expect(granted).to.be.greaterThan(0);
    expect(await value(registry, 'slidegate_lease_grants_total', { name })).to.be.greaterThan(0);
    expect(granted).to.equal(spent + returned);
    expect(await value(registry, 'slidegate_store_requests_total', { name, operation: 'check' })).to.be.greaterThan(0);
  });

  it('refuses bad metrics options with messages naming the option and the value', () => {
    const make = (metrics: unknown) => () => new RateLimiter({ limit: 1, windowSeconds: 1, metrics: metrics as never });
    expect(make('yes')).to.throw(TypeError, /options\.metrics must be a boolean or an object; got string "yes"/);
    expect(make({ latencySamplesPerSecond: -1, prometheus: false })).to.throw(RangeError, /metrics\.latencySamplesPerSecond must be an integer from 0 to 1000000; got number -1/);
    expect(make({ name: '', prometheus: false })).to.throw(RangeError, /metrics\.name must be a string of 1 to 200 characters/);
    expect(make({ registry: {} })).to.throw(TypeError, /metrics\.registry must be a prom-client Registry; got an object/);
    expect(make({ nmae: 'typo' })).to.throw(TypeError, /unknown option RateLimiter options\.metrics\.nmae/);
    expect(make({ topClients: 1.5, prometheus: false })).to.throw(RangeError, /metrics\.topClients must be an integer from 0 to 1000; got number 1.5/);
  });

  it('leaves prom-client alone when metrics are off or prometheus is false', async () => {
    const off = limiter({ limit: 1, windowSeconds: 1 });
    expect(off.metrics).to.equal(undefined);
    const registry = new Registry();
    const local = limiter({ limit: 1, windowSeconds: 1, metrics: { prometheus: false, registry } });
    await local.check('a', { timestamp: 5 });
    expect(local.metrics!.snapshot().totals.allowed).to.equal(1);
    expect(registry.getMetricsAsArray()).to.have.length(0);
  });
});
