import { expect } from 'chai';
import { ErrorCodes, StoreError } from '../src/errors';
import { CircuitBreaker } from '../src/faults/circuit-breaker';
import { OutageLog, RECOVERY_QUIET_MS, STORE_RECOVERED_WARNING } from '../src/faults/outage-log';
import { ResilientStore } from '../src/faults/resilient-store';
import { wrapStore } from '../src/faults/wrap-store';
import { parseOptions } from '../src/options';
import { RateLimiter } from '../src/rate-limiter';
import { MemoryStore } from '../src/stores/memory-store';
import type { Algorithm, ClientLimit, LeaseRelease, Store, StoreCheckRequest, StoreDecision, StoreSetLimitRequest } from '../src/types';

type Mode = 'ok' | 'hang' | 'reject' | 'wrongtype' | 'throw';

/**
 * A store that fails on demand, for the breaker and fallback logic only (Redis' own failures are
 * tested against real servers in test/chaos-*.test.ts and fault-redis-*.test.ts). Delegates to a
 * MemoryStore when healthy; `hang` calls never settle until `releaseHung()`.
 */
class FlakyStore implements Store {
  readonly hasOwnClock = false;
  readonly inner = new MemoryStore({ sweepIntervalMs: 0 });
  mode: Mode = 'ok';
  calls = 0;
  liveCount: number | undefined;
  readonly hung: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  readonly #listeners = new Set<(clientId: string | undefined) => void>();

  #run<T>(fn: () => Promise<T>): Promise<T> {
    this.calls++;
    switch (this.mode) {
      case 'ok':
        return fn();
      case 'reject':
        return Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:1'));
      case 'wrongtype':
        return Promise.reject(new Error('WRONGTYPE Operation against a key holding the wrong kind of value'));
      case 'throw':
        throw new Error('synchronous bug');
      case 'hang':
        return new Promise<T>((resolve, reject) => {
          this.hung.push({ resolve: () => void fn().then(resolve, reject), reject });
        });
    }
  }

  check(request: StoreCheckRequest): Promise<StoreDecision> {
    return this.#run(() => this.inner.check(request));
  }
  release(clientId: string, algorithm: Algorithm, release: LeaseRelease, defaults: ClientLimit): Promise<void> {
    return this.#run(() => this.inner.release(clientId, algorithm, release, defaults));
  }
  getLimit(clientId: string): Promise<ClientLimit | undefined> {
    return this.#run(() => this.inner.getLimit(clientId));
  }
  setLimit(request: StoreSetLimitRequest): Promise<void> {
    return this.#run(async () => {
      await this.inner.setLimit(request);
      for (const l of this.#listeners) l(request.clientId);
    });
  }
  onLimitChange(listener: (clientId: string | undefined) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
  async close(): Promise<void> {
    await this.inner.close();
  }
  releaseHung(how: 'resolve' | 'reject'): void {
    for (const h of this.hung.splice(0)) {
      if (how === 'resolve') h.resolve();
      else h.reject(new Error('Connection is closed.'));
    }
  }
}

class HeartbeatStore extends FlakyStore {
  beats: Array<[string, number]> = [];
  heartbeat(instanceId: string, ttlSeconds: number): Promise<number> {
    this.beats.push([instanceId, ttlSeconds]);
    return Promise.resolve(this.liveCount ?? 1);
  }
}

const T0 = 1_700_000_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('fault: ResilientStore (timeout, breaker, fallback) over a store that fails on demand', () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  const limiters: RateLimiter[] = [];
  before(() => process.on('unhandledRejection', onUnhandled));
  after(async () => {
    process.off('unhandledRejection', onUnhandled);
    for (const limiter of limiters) await limiter.close();
  });
  afterEach(() => expect(unhandled, 'unhandled rejections').to.deep.equal([]));

  function limiterOver(store: Store, extra: Partial<ConstructorParameters<typeof RateLimiter>[0]> = {}) {
    const errors: StoreError[] = [];
    const limiter = new RateLimiter({ limit: 10, windowSeconds: 60, store, timeoutMs: 20, onError: (e) => errors.push(e), ...extra });
    limiters.push(limiter);
    return { limiter, errors };
  }

  it('leaves an in-process MemoryStore unwrapped (no timer, no breaker on its path)', () => {
    expect(wrapStore(parseOptions({ limit: 1, windowSeconds: 1 }))).to.equal(undefined);
    expect(wrapStore(parseOptions({ limit: 1, windowSeconds: 1, store: new MemoryStore({ sweepIntervalMs: 0 }) }))).to.equal(undefined);
    const wrapped = wrapStore(parseOptions({ limit: 1, windowSeconds: 1, store: new FlakyStore() }));
    expect(wrapped).to.be.instanceOf(ResilientStore);
    void wrapped?.close();
  });

  it('answers a hung store within the timeout from the local fallback, then opens the breaker and stops calling', async () => {
    const store = new FlakyStore();
    const { limiter, errors } = limiterOver(store, { instances: 2 });
    store.mode = 'hang';
    const started = Date.now();
    const first = await limiter.check('a', { timestamp: T0 });
    expect(Date.now() - started).to.be.lessThan(200);
    expect(first).to.include({ allowed: true, source: 'fallback', limit: 5 }); // ceil(10 / 2)
    for (let i = 0; i < 4; i++) await limiter.check('a', { timestamp: T0 });
    expect(store.calls).to.equal(5); // 5 consecutive timeouts open the breaker
    const decisions = await Promise.all(Array.from({ length: 20 }, () => limiter.check('a', { timestamp: T0 })));
    expect(store.calls).to.equal(5);
    // The local share is 5 for the whole window, the 5 earlier fallback decisions included.
    expect(decisions.filter((d) => d.allowed)).to.have.length(0);
    expect(decisions.every((d) => d.source === 'fallback' && d.limit === 5)).to.equal(true);
    expect(errors.map((e) => e.code)).to.deep.equal(Array(5).fill(ErrorCodes.STORE_TIMEOUT));
    store.releaseHung('reject'); // the hung calls reject late: caught, no unhandled rejection
    await sleep(5);
  });

  it('counts checks that ran on the store after their timeout (late), for exact accounting', async () => {
    const store = new FlakyStore();
    const { limiter } = limiterOver(store, { breaker: { consecutiveFailures: 100, minimumCalls: 1000 } });
    store.mode = 'hang';
    await limiter.check('late', { timestamp: T0, cost: 2 });
    await limiter.check('late', { timestamp: T0, cost: 3 });
    store.mode = 'ok';
    store.releaseHung('resolve');
    await sleep(5);
    const resilient = wrapped(limiter);
    expect(resilient.late).to.deep.equal({ decisions: 2, allowedUnits: 5 });
    expect((await store.inner.check(plain('late'))).remaining).to.equal(10 - 5 - 1);
  });

  it('a store that was never reachable yet keeps being tried (no breaker), so it is used the moment it connects', async () => {
    const store = new FlakyStore();
    const breaker = new CircuitBreaker({ consecutiveFailures: 2 });
    const opened: string[] = [];
    breaker.on('open', () => opened.push('open'));
    const { limiter } = limiterOver(store, { breaker });
    store.mode = 'reject'; // connection refused: fails at once, before any answer
    for (let i = 0; i < 10; i++) expect((await limiter.check('s', { timestamp: T0 })).source).to.equal('fallback');
    expect(opened).to.deep.equal([]);
    store.mode = 'ok';
    expect((await limiter.check('s', { timestamp: T0 })).source).to.equal('store');
    store.mode = 'reject'; // once it has answered, refusals count as failures again
    for (let i = 0; i < 2; i++) await limiter.check('s', { timestamp: T0 });
    expect(opened).to.deep.equal(['open']);
  });

  it("failureMode 'open' allows and 'closed' denies, both marked fallback", async () => {
    const openStore = new FlakyStore();
    openStore.mode = 'reject';
    const open = limiterOver(openStore, { failureMode: 'open' }).limiter;
    const closedStore = new FlakyStore();
    closedStore.mode = 'reject';
    const closed = limiterOver(closedStore, { failureMode: 'closed' }).limiter;
    for (let i = 0; i < 30; i++) {
      expect(await open.check('c', { timestamp: T0 })).to.include({ allowed: true, source: 'fallback', retryAfter: 0 });
      expect(await closed.check('c', { timestamp: T0 })).to.include({ allowed: false, source: 'fallback', remaining: 0, retryAfter: 1 });
    }
  });

  it("keeps a client's configured limit through an outage (learnt from decisions and from updateLimit)", async () => {
    const store = new FlakyStore();
    const { limiter } = limiterOver(store);
    await limiter.updateLimit('vip', 3, 60);
    await store.inner.setLimit({ clientId: 'seen', limit: { limit: 2, windowSeconds: 60 }, defaults: { limit: 10, windowSeconds: 60 }, algorithm: 'sliding-window' });
    expect(await limiter.check('seen', { timestamp: T0 })).to.include({ source: 'store', limit: 2 });
    store.mode = 'reject';
    const vip = await Promise.all(Array.from({ length: 6 }, () => limiter.check('vip', { timestamp: T0 })));
    expect(vip.map((d) => d.allowed)).to.deep.equal([true, true, true, false, false, false]);
    expect(vip.every((d) => d.limit === 3 && d.source === 'fallback')).to.equal(true);
    const seen = await Promise.all(Array.from({ length: 4 }, () => limiter.check('seen', { timestamp: T0 })));
    expect(seen.filter((d) => d.allowed)).to.have.length(2);
  });

  it('refuses limit reads and writes it cannot do, with coded errors, instead of pretending', async () => {
    const store = new FlakyStore();
    const { limiter } = limiterOver(store, { breaker: { consecutiveFailures: 1 } });
    await limiter.check('x', { timestamp: T0 }); // healthy first: refusals count from then on
    store.mode = 'reject';
    const first = await limiter.updateLimit('x', 1, 60).catch((e: unknown) => e);
    expect(first).to.be.instanceOf(StoreError).and.to.have.property('code', ErrorCodes.STORE_CONNECTION);
    const second = await limiter.getLimit('x').catch((e: unknown) => e);
    expect(second).to.be.instanceOf(StoreError).and.to.have.property('code', ErrorCodes.STORE_UNAVAILABLE);
  });

  it('returns to the store after one successful probe, and tells listeners to re-read every config', async () => {
    const store = new FlakyStore();
    const breaker = new CircuitBreaker({ consecutiveFailures: 2, resetTimeoutMs: 50 });
    const events: string[] = [];
    breaker.on('open', () => events.push('open')).on('halfOpen', () => events.push('halfOpen')).on('close', () => events.push('close'));
    const { limiter } = limiterOver(store, { breaker });
    const resilient = wrapped(limiter);
    const changes: Array<string | undefined> = [];
    resilient.onLimitChange((id) => changes.push(id));
    await limiter.check('r0', { timestamp: T0 }); // healthy first: refusals count from then on
    store.mode = 'reject';
    await limiter.check('r', { timestamp: T0 });
    await limiter.check('r', { timestamp: T0 });
    store.mode = 'ok';
    expect((await limiter.check('r', { timestamp: T0 })).source).to.equal('fallback'); // still open
    await sleep(60);
    const probeAndOthers = await Promise.all(Array.from({ length: 10 }, () => limiter.check('r', { timestamp: T0 })));
    expect(probeAndOthers.filter((d) => d.source === 'store')).to.have.length(1); // exactly one probe
    expect((await limiter.check('r', { timestamp: T0 })).source).to.equal('store');
    expect(events).to.deep.equal(['open', 'halfOpen', 'close']);
    expect(changes).to.deep.equal([undefined]);
    // Fallback counts were never written to the store: it holds only the 2 store decisions.
    expect((await store.inner.check(plain('r'))).remaining).to.equal(10 - 2 - 1);
  });

  it('WRONGTYPE on one client falls back for that client without opening the breaker for everyone', async () => {
    const store = new FlakyStore();
    const { limiter, errors } = limiterOver(store, { breaker: { consecutiveFailures: 2 } });
    const changes: Array<string | undefined> = [];
    wrapped(limiter).onLimitChange((id) => changes.push(id));
    store.mode = 'wrongtype';
    for (let i = 0; i < 5; i++) expect((await limiter.check('bad', { timestamp: T0 })).source).to.equal('fallback');
    store.mode = 'ok';
    expect((await limiter.check('good', { timestamp: T0 })).source).to.equal('store');
    expect(errors[0]?.code).to.equal(ErrorCodes.STORE_WRONG_TYPE);
    // Not a store outage, so no "re-read every config" storm for the other clients.
    expect(changes).to.deep.equal([]);
  });

  it('a store that throws synchronously is a failure like any other, not a crash', async () => {
    const store = new FlakyStore();
    const { limiter, errors } = limiterOver(store);
    store.mode = 'throw';
    expect((await limiter.check('t', { timestamp: T0 })).source).to.equal('fallback');
    expect(errors[0]?.code).to.equal(ErrorCodes.STORE_FAILURE);
  });

  it('swallows a failed lease release (the units just expire) and never retries it', async () => {
    const store = new FlakyStore();
    const { limiter } = limiterOver(store);
    store.mode = 'reject';
    await wrapped(limiter).release('l', 'sliding-window', { at: T0, units: 1 }, { limit: 10, windowSeconds: 60 });
    expect(store.calls).to.equal(1);
  });

  it('shares the limit among the live instances reported by heartbeats, never below the configured count', async () => {
    const store = new HeartbeatStore();
    store.liveCount = 4;
    const { limiter } = limiterOver(store, { instances: 2 });
    await sleep(5);
    expect(wrapped(limiter).instances).to.equal(4);
    expect(store.beats[0]?.[1]).to.equal(15);
    store.mode = 'reject';
    expect(await limiter.check('h', { timestamp: T0 })).to.include({ source: 'fallback', limit: 3 }); // ceil(10 / 4)
    store.mode = 'ok';
    await limiter.close();
    expect(store.beats.at(-1)?.[1]).to.equal(0); // left the live set on close
  });

  it('by default reports each error code once per outage, naming the endpoint, and the recovery once', async () => {
    const warnings: Array<{ message: string; code: string | undefined }> = [];
    const emit = ((message: string, options?: { code?: string }) => warnings.push({ message, code: options?.code })) as typeof process.emitWarning;
    const log = new OutageLog('10.0.0.7:6380', emit);
    const outage = () => {
      for (let i = 0; i < 3; i++) {
        log.error(new StoreError('slidegate: a', { code: ErrorCodes.STORE_TIMEOUT }));
        log.error(new StoreError('slidegate: b', { code: ErrorCodes.STORE_OUT_OF_MEMORY }));
      }
    };
    outage();
    log.recovered();
    outage(); // a failure within the quiet period: the same outage, nothing new to say
    log.recovered();
    log.recovered();
    await sleep(RECOVERY_QUIET_MS + 50);
    outage(); // a second outage is reported afresh
    expect(warnings.map((w) => w.code)).to.deep.equal([
      ErrorCodes.STORE_TIMEOUT,
      ErrorCodes.STORE_OUT_OF_MEMORY,
      STORE_RECOVERED_WARNING,
      ErrorCodes.STORE_TIMEOUT,
      ErrorCodes.STORE_OUT_OF_MEMORY,
    ]);
    expect(warnings[0]?.message).to.match(/^slidegate: the store at 10\.0\.0\.7:6380 failed: a\. .*further ERR_SLIDEGATE_STORE_TIMEOUT are not reported until then/);
    expect(warnings[2]?.message).to.match(/^slidegate: the store at 10\.0\.0\.7:6380 answers again, [\d.]+ s after the first failure/);
  });

  it('accepts a plug-in breaker, and one that throws never turns a decision into a crash', async () => {
    const calls: string[] = [];
    const plugin = {
      acquire: () => {
        calls.push('acquire');
        return 'call' as const;
      },
      success: () => {
        calls.push('success');
        throw new Error('buggy breaker');
      },
      failure: () => {
        calls.push('failure');
      },
    };
    const store = new FlakyStore();
    const { limiter, errors } = limiterOver(store, { breaker: plugin });
    expect((await limiter.check('p', { timestamp: T0 })).source).to.equal('store');
    store.mode = 'hang';
    expect((await limiter.check('p', { timestamp: T0 })).source).to.equal('fallback');
    expect(calls).to.deep.equal(['acquire', 'success', 'acquire', 'failure']);
    expect(errors.map((e) => e.message)).to.satisfy((m: string[]) => m.some((x) => x.includes('buggy breaker')));
    store.releaseHung('reject');
    const throwing = { acquire: () => { throw new Error('no permit'); }, success: () => undefined, failure: () => undefined };
    const store2 = new FlakyStore();
    const second = limiterOver(store2, { breaker: throwing });
    expect((await second.limiter.check('q', { timestamp: T0 })).source).to.equal('store');
  });

  it('validates the fault options with messages that name the option and the value', () => {
    const store = new FlakyStore();
    expect(() => new RateLimiter({ limit: 1, windowSeconds: 1, store, failureMode: 'fail-open' as never })).to.throw(RangeError, /failureMode .*got string "fail-open"/);
    expect(() => new RateLimiter({ limit: 1, windowSeconds: 1, store, timeoutMs: 0 })).to.throw(RangeError, /timeoutMs .*got number 0/);
    expect(() => new RateLimiter({ limit: 1, windowSeconds: 1, store, instances: 1.5 })).to.throw(RangeError, /instances .*got number 1\.5/);
    expect(() => new RateLimiter({ limit: 1, windowSeconds: 1, store, breaker: 5 as never })).to.throw(TypeError, /breaker .*got number 5/);
    expect(() => new RateLimiter({ limit: 1, windowSeconds: 1, store, onError: 'log' as never })).to.throw(TypeError, /onError .*got string "log"/);
  });
});

/** The ResilientStore a limiter wraps its store in. */
function wrapped(limiter: RateLimiter): ResilientStore {
  const store = limiter.resilientStore;
  if (store === undefined) throw new Error('RateLimiter.resilientStore is missing');
  return store;
}

function plain(clientId: string): StoreCheckRequest {
  return { clientId, timestamp: T0, cost: 1, defaults: { limit: 10, windowSeconds: 60 }, algorithm: 'sliding-window', extra: 0, limitFactor: 1 };
}
