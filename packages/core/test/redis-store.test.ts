import { expect } from 'chai';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import calculateSlot from 'cluster-key-slot';
import { sharedRedis, startRedis, type RedisServer, type SharedRedis } from '@slidegate/test-utils';
import { RateLimiter, SAFE_REDIS_OPTIONS } from '../src/index';
import { RedisStore } from '../src/stores/redis-store';
import { clientKeys, decodeClientId, encodeClientId } from '../src/stores/redis/key-encoding';
import { LATE_ARRIVAL_GRACE_MS } from '../src/time';
import type { Algorithm } from '../src/types';
import { deleteKeys, uniquePrefix } from './redis-helpers';

const ALGORITHMS: Algorithm[] = ['sliding-window', 'sliding-log', 'sliding-counter'];
const T0 = 1_700_000_000;

/** Polls `probe` every 20 ms until it returns true; fails after `ms`. */
async function within(ms: number, probe: () => Promise<boolean> | boolean, what: string): Promise<number> {
  const started = Date.now();
  for (let i = 0; i < 10_000; i++) {
    if (await probe()) return Date.now() - started;
    if (Date.now() - started > ms) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`not within ${ms} ms: ${what}`);
}

function limiterOn(store: RedisStore, algorithm: Algorithm = 'sliding-window', limit = 3, windowSeconds = 10): RateLimiter {
  // The store's own decisions: leases and the denial cache (on by default on RedisStore) have tests of their own.
  return new RateLimiter({ limit, windowSeconds, algorithm, store, timeoutMs: 5_000, maxClockSkewSeconds: Infinity, lease: false, denialCache: false });
}

describe('RedisStore', function () {
  this.timeout(30_000);
  let shared: SharedRedis;
  let client: Redis;
  const prefix = uniquePrefix('store');

  before(async () => {
    shared = await sharedRedis();
    client = new Redis(shared.url);
  });

  after(async () => {
    if (client !== undefined) {
      await deleteKeys(client, prefix);
      client.disconnect();
    }
    await shared?.stop();
  });

  describe('options', () => {
    it('refuses bad options with a TypeError or RangeError naming the option and the value', () => {
      expect(() => new RedisStore({ client: {} as Redis })).to.throw(TypeError, /options\.client must be an ioredis or iovalkey Redis or Cluster, a node-redis client, cluster or sentinel .*; got an object/);
      expect(() => new RedisStore(undefined as unknown as { client: Redis })).to.throw(TypeError, /RedisStore options must be an object; got undefined/);
      expect(() => new RedisStore({ client, prefix: 'a{b' })).to.throw(RangeError, /options\.prefix may not contain '\{' or '\}'.*"a\{b"/);
      expect(() => new RedisStore({ client, prefix: 7 as unknown as string })).to.throw(TypeError, /options\.prefix must be a string; got number 7/);
      expect(() => new RedisStore({ client, clock: 'host' as 'redis' })).to.throw(RangeError, /options\.clock must be 'caller' or 'redis'; got string "host"/);
      expect(() => new RedisStore({ client, limitCacheSize: 0 })).to.throw(RangeError, /limitCacheSize must be an integer >= 1; got number 0/);
      expect(() => new RedisStore({ client, prefx: 'x' } as unknown as { client: Redis })).to.throw(TypeError, /unknown option RedisStore options\.prefx/);
      expect(() => RedisStore.fromUrl(42 as unknown as string)).to.throw(TypeError, /fromUrl url must be a string; got number 42/);
      const tagged = new Redis(shared.url, { keyPrefix: 'app{1}:', lazyConnect: true });
      expect(() => new RedisStore({ client: tagged })).to.throw(RangeError, /keyPrefix with '\{' or '\}'.*"app\{1\}:"/);
      tagged.disconnect();
    });

    it("defaults: prefix 'slidegate:', the caller's clock", async () => {
      const store = new RedisStore({ client });
      expect(store.prefix).to.equal('slidegate:');
      expect(store.hasOwnClock).to.equal(false);
      await store.close();
      expect(await client.ping(), "close() leaves the user's client open").to.equal('PONG');
    });
  });

  describe('keys', () => {
    const hardIds = [
      'plain',
      '{braces}',
      'a}b{c}',
      '}{',
      '%7D',
      '%25',
      '%',
      'with:colons:and spaces',
      'new\nline\r\n',
      'emoji 😀🚀',
      '\uD800 lone high surrogate',
      'lone low \uDFFF',
      'x'.repeat(1024),
      '€'.repeat(341) + 'x', // 1024 bytes of UTF-8
    ];

    it('encodes ids injectively: decode(encode(id)) is id, and no encoded id has a closing brace', () => {
      fc.assert(
        fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 40 }), fc.string({ unit: fc.constantFrom('{', '}', '%', '7', 'D', '2', '5', 'u', ':', '\uD800', '\uDC00', 'a') })), (id) => {
          const encoded = encodeClientId(id);
          expect(encoded).to.not.include('}');
          expect(decodeClientId(encoded)).to.equal(id);
          // Well-formed UTF-16, so the bytes sent to Redis carry every id distinctly.
          expect(Buffer.from(encoded, 'utf8').toString('utf8')).to.equal(encoded);
        }),
        { numRuns: 2000 },
      );
      const all = hardIds.map((id) => clientKeys('p:', id).config);
      expect(new Set(all).size).to.equal(hardIds.length);
    });

    it('puts every key of a client on one Cluster slot (its own hash tag), for braces, colons, newlines, emoji and 1 KB ids', () => {
      for (const id of hardIds) {
        const keys = Object.values(clientKeys(prefix, id));
        const slots = new Set(keys.map((key) => calculateSlot(key)));
        expect(slots.size, JSON.stringify(id)).to.equal(1);
        // The tag is exactly the encoded id: the slot is that of the encoded id alone.
        expect([...slots][0], JSON.stringify(id)).to.equal(calculateSlot(encodeClientId(id)));
      }
    });

    // Regression: a key that expired exactly W + g after a window filled in one burst let a request
    // stamped inside that window, reaching Redis later than that, start a fresh window (and a lease).
    it(`keeps a client's counts W + g + ${LATE_ARRIVAL_GRACE_MS} ms: a request stamped inside the window that reaches Redis late, after nothing was allowed for W + g, still counts the whole window`, async () => {
      const store = new RedisStore({ client, prefix: `${prefix}late:` });
      const defaults = { limit: 5, windowSeconds: 1 };
      const check = (timestamp: number, extra: number) => store.check({ clientId: 'c', timestamp, cost: 1, defaults, algorithm: 'sliding-window', extra, limitFactor: 1 });
      const redisMs = async (): Promise<number> => {
        const [seconds, micros] = await client.time();
        return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
      };
      const t0 = await redisMs();
      // One write fills the window: a check and a lease of the rest (the first grant after an outage).
      expect(await check(t0, 4)).to.include({ allowed: true, granted: 4 });
      // W + g (1017 ms) of Redis's clock with nothing allowed: where the key used to expire.
      while ((await redisMs()) < t0 + 1017 + 50) await new Promise((r) => setTimeout(r, 10));
      // Stamped 300 ms before the burst leaves the window, arriving about 400 ms after its own time.
      expect(await check(t0 + 700, 4)).to.include({ allowed: false, granted: 0 });
      await store.close();
    });

    it(`gives every counting key a TTL in (0, W_ms + g + ${LATE_ARRIVAL_GRACE_MS}] after checks, and none to config keys; distinct ids never share keys`, async () => {
      const store = new RedisStore({ client, prefix: `${prefix}ttl:` });
      const ids = hardIds;
      for (const algorithm of ALGORITHMS) {
        const limiter = limiterOn(store, algorithm, 5, 30);
        for (const id of ids) {
          expect((await limiter.check(id, { timestamp: T0 })).allowed).to.equal(true);
          expect((await limiter.check(id, { timestamp: T0 + 1, cost: 2 })).remaining).to.equal(2);
        }
        await limiter.close();
      }
      // A window change re-arms the TTL of the algorithm's state key with the new window.
      const updater = limiterOn(store, 'sliding-window', 5, 30);
      await updater.updateLimit(ids[0] as string, 7, 20);
      await updater.close();
      const seen = new Set<string>();
      for (const id of ids) {
        const keys = clientKeys(`${prefix}ttl:`, id);
        for (const key of [keys.slidingWindow, keys.slidingLog, keys.slidingLogMeta, keys.slidingCounter]) {
          const ttl = await client.pttl(key);
          expect(ttl, `${JSON.stringify(id)} ${key}`).to.be.greaterThan(0);
          // W_ms + g: the bucket that holds the last write counts up to g - 1 ms past W; then the grace
          // for requests that reach Redis late.
          expect(ttl, `${JSON.stringify(id)} ${key}`).to.be.at.most((id === ids[0] && key === keys.slidingWindow ? 20_000 + 334 : 30_000 + 500) + LATE_ARRIVAL_GRACE_MS);
          expect(seen.has(key)).to.equal(false);
          seen.add(key);
        }
      }
      expect(await client.ttl(clientKeys(`${prefix}ttl:`, ids[0] as string).config), 'config keys never expire').to.equal(-1);
      // Each id's own keys are the only ones its checks touched: 4 counting keys per id, one config.
      const [, found] = await client.scan('0', 'MATCH', `${prefix}ttl:{*`, 'COUNT', 100_000);
      expect(found.length).to.equal(ids.length * 4 + 1);
      await store.close();
    });

    it('a denial writes nothing', async () => {
      const store = new RedisStore({ client, prefix });
      for (const algorithm of ALGORITHMS) {
        const limiter = limiterOn(store, algorithm, 1, 10);
        const id = `deny:${algorithm}`;
        const denied = await limiter.check(id, { timestamp: T0, cost: 2 });
        expect(denied).to.include({ allowed: false, retryAfter: Infinity });
        const [, keys] = await client.scan('0', 'MATCH', `${prefix}{deny:${algorithm}}*`, 'COUNT', 100_000);
        expect(keys, algorithm).to.deep.equal([]);
        await limiter.close();
      }
      await store.close();
    });
  });

  describe('limits shared between instances', () => {
    it('updateLimit on one instance is seen by another (separate connections) within 1 second, listeners included', async () => {
      const other = new Redis(shared.url);
      const a = new RedisStore({ client, prefix });
      const b = new RedisStore({ client: other, prefix });
      const heard: (string | undefined)[] = [];
      b.onLimitChange((id) => heard.push(id));
      const id = 'shared:{limit}\n';
      const limiterA = limiterOn(a);
      const limiterB = limiterOn(b);
      // B subscribed, so what it reads now is cached: only the announcement can refresh it.
      await within(2_000, () => b.subscriberConnection?.status === 'ready', 'B subscribed');
      expect(await limiterB.getLimit(id)).to.deep.equal({ limit: 3, windowSeconds: 10 });
      expect(await b.getLimit(id)).to.equal(undefined);
      await limiterA.updateLimit(id, 9, 30);
      const took = await within(1_000, async () => (await limiterB.getLimit(id)).limit === 9, 'B sees the new limit');
      expect(heard).to.include(id);
      expect(took).to.be.below(1_000);
      // Decisions never needed the cache: the script reads the limit itself.
      expect(await limiterB.check(id, { timestamp: T0 })).to.include({ limit: 9, windowSeconds: 30, remaining: 8 });
      await Promise.all([limiterA.close(), limiterB.close(), a.close(), b.close()]);
      other.disconnect();
    });
  });

  describe('ioredis behaviour', () => {
    it('works with enableAutoPipelining: concurrent checks for one client admit exactly the limit', async () => {
      const piped = new Redis(shared.url, { enableAutoPipelining: true });
      const store = new RedisStore({ client: piped, prefix });
      for (const algorithm of ALGORITHMS) {
        const limiter = limiterOn(store, algorithm, 100, 60);
        const decisions = await Promise.all(Array.from({ length: 300 }, (_, i) => limiter.check(`piped:${algorithm}`, { timestamp: T0 + (i % 3) })));
        expect(decisions.filter((d) => d.allowed).length, algorithm).to.equal(100);
        await limiter.close();
      }
      await store.close();
      piped.disconnect();
    });

    it("clock 'redis': a check without timestamp is timed by Redis TIME", async () => {
      const store = new RedisStore({ client, prefix, clock: 'redis' });
      expect(store.hasOwnClock).to.equal(true);
      const limiter = new RateLimiter({ limit: 5, windowSeconds: 10, store, now: () => 1, timeoutMs: 5_000, maxClockSkewSeconds: Infinity });
      const [time] = await client.time();
      const decision = await limiter.check('redis-clock');
      expect(Math.abs(decision.timestamp - Number(time))).to.be.at.most(2);
      // A given timestamp still wins.
      expect((await limiter.check('redis-clock-2', { timestamp: T0 })).timestamp).to.equal(T0);
      await limiter.close();
      await store.close();
    });

    it('fromUrl creates a client and closes it; close() is idempotent', async () => {
      const store = RedisStore.fromUrl(shared.url, { prefix, redisOptions: { connectionName: 'slidegate-fromurl-test' } });
      const limiter = limiterOn(store);
      expect((await limiter.check('from-url', { timestamp: T0 })).allowed).to.equal(true);
      await limiter.close();
      await store.close();
      await store.close();
      const list = String(await client.client('LIST'));
      expect(list).to.not.include('slidegate-fromurl-test');
    });

    it('refuses a reply it does not understand with a coded StoreError, and wraps Redis errors', async () => {
      const store = new RedisStore({ client, prefix });
      await client.set(clientKeys(prefix, 'wrong-type').slidingLog, 'x', 'PX', 10_000);
      await client.set(clientKeys(prefix, 'wrong-type').slidingLogMeta, '5 1 1', 'PX', 10_000);
      const limiter = limiterOn(store, 'sliding-log');
      const error = await store
        .check({ clientId: 'wrong-type', timestamp: T0, cost: 1, defaults: { limit: 1, windowSeconds: 10 }, algorithm: 'sliding-log', extra: 0, limitFactor: 1 })
        .then(() => undefined, (e: unknown) => e);
      expect(error).to.have.property('code', 'ERR_SLIDEGATE_STORE_FAILURE');
      expect(String((error as Error).message)).to.match(/WRONGTYPE/);
      await limiter.close();
      await store.close();
    });
  });
});

describe('RedisStore on a server of its own (restart, SCRIPT FLUSH, subscriber cut)', function () {
  this.timeout(60_000);
  let server: RedisServer | undefined;

  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  it('survives SCRIPT FLUSH (EVALSHA falls back to EVAL after NOSCRIPT)', async () => {
    server = await startRedis();
    const client = server.client();
    const store = new RedisStore({ client });
    const limiter = limiterOn(store, 'sliding-window', 2, 10);
    expect((await limiter.check('flush', { timestamp: T0 })).allowed).to.equal(true);
    await client.script('FLUSH');
    expect(await limiter.check('flush', { timestamp: T0 })).to.include({ allowed: true, remaining: 0 });
    expect((await limiter.check('flush', { timestamp: T0 })).allowed).to.equal(false);
    await limiter.close();
    await store.close();
  });

  it('persists counts and configs with appendonly: both survive SHUTDOWN and a restart on the same folder', async () => {
    server = await startRedis({ appendOnly: true });
    const before = new Redis(server.url);
    let store = new RedisStore({ client: before });
    for (const algorithm of ALGORITHMS) {
      const limiter = limiterOn(store, algorithm, 5, 3600);
      await limiter.updateLimit(`persist:${algorithm}`, 4, 3600);
      for (let i = 0; i < 3; i++) expect((await limiter.check(`persist:${algorithm}`, { timestamp: T0 + i })).allowed).to.equal(true);
      await limiter.close();
    }
    await store.close();
    before.disconnect();
    // A client that neither reconnects nor resends: SHUTDOWN must reach this server once, never its successor.
    const admin = new Redis(server.url, { retryStrategy: () => null, autoResendUnfulfilledCommands: false, maxRetriesPerRequest: 0 });
    admin.on('error', () => undefined);
    await admin.shutdown().catch(() => undefined); // the server answers SHUTDOWN by closing the connection
    admin.disconnect();
    await server.restart();
    const after = new Redis(server.url);
    store = new RedisStore({ client: after });
    for (const algorithm of ALGORITHMS) {
      const limiter = limiterOn(store, algorithm, 5, 3600);
      expect(await limiter.getLimit(`persist:${algorithm}`), algorithm).to.deep.equal({ limit: 4, windowSeconds: 3600 });
      // 3 of 4 used before the restart: one more fits, then the window is full.
      expect(await limiter.check(`persist:${algorithm}`, { timestamp: T0 + 10 }), algorithm).to.include({ allowed: true, remaining: 0 });
      expect((await limiter.check(`persist:${algorithm}`, { timestamp: T0 + 11 })).allowed, algorithm).to.equal(false);
      await limiter.close();
    }
    await store.close();
    after.disconnect();
  });

  it('after its subscriber connection is killed and restored, a change made meanwhile is still seen (cache invalidated)', async () => {
    server = await startRedis();
    const aClient = new Redis(server.url);
    const a = new RedisStore({ client: aClient });
    // B's client has the settings made safe for decisions (no offline queue): its subscriber must still work.
    const bClient = new Redis(server.url, SAFE_REDIS_OPTIONS);
    const b = new RedisStore({ client: bClient });
    const heard: (string | undefined)[] = [];
    b.onLimitChange((id) => heard.push(id));
    await within(2_000, () => b.subscriberConnection?.status === 'ready', 'B subscribed');
    await new Promise((r) => setTimeout(r, 50));
    expect(heard, 'no spurious announcement at the first subscription').to.deep.equal([]);
    await a.setLimit({ clientId: 'cut', limit: { limit: 1, windowSeconds: 10 }, defaults: { limit: 3, windowSeconds: 10 }, algorithm: 'sliding-window' });
    await within(1_000, async () => (await b.getLimit('cut'))?.limit === 1, 'B sees limit 1');
    // Let B cache it, then cut B's subscriber and change the limit while it is away.
    await within(1_000, async () => (await b.getLimit('cut'))?.limit === 1, 'B caches limit 1');
    heard.length = 0;
    const admin = new Redis(server.url);
    const killed = await admin.client('KILL', 'TYPE', 'pubsub');
    expect(killed).to.equal(1);
    await a.setLimit({ clientId: 'cut', limit: { limit: 2, windowSeconds: 10 }, defaults: { limit: 3, windowSeconds: 10 }, algorithm: 'sliding-window' });
    await within(1_000, async () => (await b.getLimit('cut'))?.limit === 2, 'B sees limit 2 after the cut');
    await within(2_000, () => heard.includes(undefined), 'B announced an unseen change after re-subscribing');
    expect(heard.filter((id) => id === undefined), 'one announcement per re-subscription').to.have.length(1);
    // And messages flow again on the restored subscription.
    await a.setLimit({ clientId: 'cut', limit: { limit: 5, windowSeconds: 10 }, defaults: { limit: 3, windowSeconds: 10 }, algorithm: 'sliding-window' });
    await within(1_000, () => heard.includes('cut'), 'B hears the next change');
    expect((await b.getLimit('cut'))?.limit).to.equal(5);
    await a.close();
    await b.close();
    admin.disconnect();
    aClient.disconnect();
    bClient.disconnect();
  });
});
