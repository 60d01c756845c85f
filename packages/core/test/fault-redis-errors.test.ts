import { once } from 'node:events';
import { expect } from 'chai';
import { Cluster, Redis } from 'ioredis';
import { startRedis, type RedisServer } from '@slidegate/test-utils';
import { ErrorCodes, StoreError } from '../src/errors';
import { CircuitBreaker } from '../src/faults/circuit-breaker';
import {
  assertSafeRedisClient,
  createUnsafeClientWarner,
  SAFE_CLUSTER_OPTIONS,
  SAFE_REDIS_OPTIONS,
  unsafeRedisClientSettings,
} from '../src/faults/redis-client-safety';
import { classifyStoreError } from '../src/faults/store-errors';
import { RateLimiter } from '../src/rate-limiter';
import { RedisStore } from '../src/stores/redis-store';

// Bad answers from a real Redis (a throwaway server on a free port: these tests flush scripts,
// set maxmemory and demote the server, which must never happen on the shared 6379).

const T0 = 1_700_000_000;

describe('fault: bad answers from a real Redis (NOSCRIPT, WRONGTYPE, OOM, READONLY, MOVED)', function () {
  this.timeout(20_000);
  let server: RedisServer;
  let admin: Redis;
  const clients: Redis[] = [];
  const limiters: RateLimiter[] = [];
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);

  before(async () => {
    process.on('unhandledRejection', onUnhandled);
    server = await startRedis();
    admin = server.client();
  });
  after(async () => {
    process.off('unhandledRejection', onUnhandled);
    for (const limiter of limiters) await limiter.close();
    for (const client of clients) client.disconnect();
    await server.stop();
  });
  afterEach(() => expect(unhandled, 'unhandled rejections').to.deep.equal([]));

  async function rig(label: string, breaker = new CircuitBreaker({ resetTimeoutMs: 200 })) {
    const client = new Redis({ host: server.host, port: server.port, ...SAFE_REDIS_OPTIONS });
    client.on('error', () => undefined);
    clients.push(client);
    if (client.status !== 'ready') await once(client, 'ready');
    const store = new RedisStore({ client, prefix: `fault-${label}:` });
    const errors: StoreError[] = [];
    const limiter = new RateLimiter({ limit: 5, windowSeconds: 60, store, breaker, onError: (e) => errors.push(e) });
    limiters.push(limiter);
    return { client, store, limiter, errors, breaker };
  }

  it('NOSCRIPT after SCRIPT FLUSH: ioredis re-sends the script as EVAL; the decision stays on the store, counted once', async () => {
    const { limiter, errors } = await rig('noscript');
    expect(await limiter.check('n', { timestamp: T0 })).to.include({ source: 'store', remaining: 4 });
    await admin.script('FLUSH');
    expect(await limiter.check('n', { timestamp: T0 })).to.include({ source: 'store', remaining: 3 });
    expect(await limiter.check('n', { timestamp: T0 })).to.include({ source: 'store', remaining: 2 });
    expect(errors).to.deep.equal([]);
  });

  it('WRONGTYPE on an overwritten key: that client decides in fallback with a coded error; the key is left alone; others stay on the store', async () => {
    const { limiter, errors, breaker } = await rig('wrongtype', new CircuitBreaker({ consecutiveFailures: 2 }));
    await limiter.check('w', { timestamp: T0 });
    const keys = await admin.keys('fault-wrongtype:*');
    expect(keys.length).to.be.greaterThan(0);
    for (const key of keys) await admin.del(key);
    for (const key of keys) await admin.sadd(key, 'someone else'); // another type under our name
    for (let i = 0; i < 4; i++) expect((await limiter.check('w', { timestamp: T0 })).source).to.equal('fallback');
    expect(breaker.state, 'one client’s bad key must not open the breaker for all').to.equal('closed');
    expect((await limiter.check('other', { timestamp: T0 })).source).to.equal('store');
    expect(errors.map((e) => e.code)).to.include(ErrorCodes.STORE_WRONG_TYPE);
    expect(await admin.type(keys[0] as string), 'never deletes data it did not write').to.equal('set');
    for (const key of keys) await admin.del(key);
    expect((await limiter.check('w', { timestamp: T0 })).source).to.equal('store');
  });

  it('OOM under maxmemory: fallback with a coded error, back on the store once memory is available', async () => {
    const { limiter, errors } = await rig('oom');
    await admin.config('SET', 'maxmemory-policy', 'noeviction');
    await admin.config('SET', 'maxmemory', '1');
    try {
      for (let i = 0; i < 8; i++) expect((await limiter.check(`o${i}`, { timestamp: T0 })).source).to.equal('fallback');
      expect(errors[0]?.code).to.equal(ErrorCodes.STORE_OUT_OF_MEMORY);
    } finally {
      await admin.config('SET', 'maxmemory', '0');
    }
    await new Promise((resolve) => setTimeout(resolve, 250)); // the breaker's reset timeout in this rig
    expect((await limiter.check('o-after', { timestamp: T0 })).source).to.equal('store');
  });

  it('READONLY from a demoted master: fallback with a coded error; back on the store when it is a master again', async () => {
    const { limiter, errors } = await rig('readonly');
    expect((await limiter.check('r', { timestamp: T0 })).source).to.equal('store');
    // Demote the server: a replica of a master that is not there still refuses writes.
    await admin.call('REPLICAOF', '127.0.0.1', '1');
    try {
      for (let i = 0; i < 6; i++) expect((await limiter.check('r', { timestamp: T0 })).source).to.equal('fallback');
      expect(errors.map((e) => e.code)).to.include(ErrorCodes.STORE_READ_ONLY);
    } finally {
      await admin.call('REPLICAOF', 'NO', 'ONE');
    }
    let back = false;
    for (let i = 0; i < 100 && !back; i++) {
      back = (await limiter.check('r', { timestamp: T0 })).source === 'store';
      if (!back) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(back, 'back on the store within 5 s').to.equal(true);
  });

  it('classifies MOVED/ASK that reach a standalone client, and other Redis replies, to stable codes', () => {
    const cases: Array<[string, string, boolean]> = [
      ['MOVED 3999 127.0.0.1:7002', ErrorCodes.STORE_REDIRECTED, true],
      ['ASK 3999 127.0.0.1:7002', ErrorCodes.STORE_REDIRECTED, true],
      ['WRONGTYPE Operation against a key holding the wrong kind of value script: abc, on @user_script:12.', ErrorCodes.STORE_WRONG_TYPE, false],
      ["OOM command not allowed when used memory > 'maxmemory'.", ErrorCodes.STORE_OUT_OF_MEMORY, true],
      ["READONLY You can't write against a read only replica.", ErrorCodes.STORE_READ_ONLY, true],
      ['NOSCRIPT No matching script. Please use EVAL.', ErrorCodes.STORE_NO_SCRIPT, true],
      ['LOADING Redis is loading the dataset in memory', ErrorCodes.STORE_BUSY, true],
      ['BUSY Redis is busy running a script.', ErrorCodes.STORE_BUSY, true],
      ['CLUSTERDOWN The cluster is down', ErrorCodes.STORE_BUSY, true],
      ['Connection is closed.', ErrorCodes.STORE_CONNECTION, true],
      ["Stream isn't writeable and enableOfflineQueue options is false", ErrorCodes.STORE_CONNECTION, true],
      ['Reached the max retries per request limit (which is 0). Refer to "maxRetriesPerRequest" option for details.', ErrorCodes.STORE_CONNECTION, true],
      ['ERR something new', ErrorCodes.STORE_FAILURE, true],
    ];
    for (const [message, code, storeFailure] of cases) {
      // As RedisStore hands them over: a generic StoreError wrapping ioredis' error.
      const wrapped = new StoreError(`slidegate: RedisStore x failed: ${message}`, { cause: new Error(message) });
      const classified = classifyStoreError(wrapped, 'check');
      expect(classified.error.code, message).to.equal(code);
      expect(classified.storeFailure, message).to.equal(storeFailure);
      expect(classified.error.cause).to.equal(wrapped);
    }
  });

  it('a MOVED reply reaching a standalone client (one pointed at a Cluster node) is a coded fallback, not a crash', async () => {
    // A real server sends a reply error of MOVED's shape (redis.error_reply); a Cluster client follows
    // real ones (test/chaos-cluster.test.ts), a standalone client cannot and must fall back.
    const client = new Redis({ host: server.host, port: server.port, ...SAFE_REDIS_OPTIONS });
    client.on('error', () => undefined);
    clients.push(client);
    await once(client, 'ready');
    const store = new RedisStore({ client, prefix: 'fault-moved:' });
    const original = store.check.bind(store);
    let calls = 0;
    store.check = (request) => {
      calls++;
      return calls === 1 ? client.call('EVAL', "return redis.error_reply('MOVED 1 127.0.0.1:1')", 0).then(() => original(request)) : original(request);
    };
    const errors: StoreError[] = [];
    const limiter = new RateLimiter({ limit: 5, windowSeconds: 60, store, onError: (e) => errors.push(e) });
    limiters.push(limiter);
    expect((await limiter.check('m', { timestamp: T0 })).source).to.equal('fallback');
    expect(errors[0]?.code).to.equal(ErrorCodes.STORE_REDIRECTED);
    expect((await limiter.check('m', { timestamp: T0 })).source).to.equal('store');
  });
});

describe('fault: ioredis client settings (what a limiter needs, checked without connecting)', () => {
  it('finds every unsafe default of a plain Redis client and names each setting', () => {
    const client = new Redis({ lazyConnect: true });
    try {
      const problems = unsafeRedisClientSettings(client);
      expect(problems.join('\n')).to.match(/enableOfflineQueue/).and.match(/autoResendUnfulfilledCommands/).and.match(/maxRetriesPerRequest/);
      expect(() => assertSafeRedisClient(client)).to.throw(TypeError, /RedisStore options\.client is unsafe .*SAFE_REDIS_OPTIONS/).with.property('code', ErrorCodes.UNSAFE_REDIS_CLIENT);
    } finally {
      client.disconnect();
    }
  });

  it('accepts clients built from SAFE_REDIS_OPTIONS and SAFE_CLUSTER_OPTIONS', () => {
    const client = new Redis({ lazyConnect: true, ...SAFE_REDIS_OPTIONS });
    const cluster = new Cluster([{ host: '127.0.0.1', port: 1 }], { lazyConnect: true, ...SAFE_CLUSTER_OPTIONS });
    try {
      expect(unsafeRedisClientSettings(client)).to.deep.equal([]);
      expect(unsafeRedisClientSettings(cluster)).to.deep.equal([]);
      expect(unsafeRedisClientSettings(client.duplicate())).to.deep.equal([]);
    } finally {
      client.disconnect();
      cluster.disconnect();
    }
  });

  it('warns once, with a code and the fix, at the first unsafe client; never for a safe one', () => {
    const warnings: Array<{ message: string; code: string | undefined }> = [];
    const warn = createUnsafeClientWarner(((message: string, options?: { code?: string }) =>
      warnings.push({ message, code: options?.code })) as typeof process.emitWarning);
    const safe = new Redis({ lazyConnect: true, ...SAFE_REDIS_OPTIONS });
    const unsafe = [new Redis({ lazyConnect: true }), new Redis({ lazyConnect: true })];
    try {
      warn(safe);
      expect(warnings).to.deep.equal([]);
      for (const client of unsafe) warn(client);
      expect(warnings).to.have.length(1);
      expect(warnings[0]?.code).to.equal(ErrorCodes.UNSAFE_REDIS_CLIENT);
      expect(warnings[0]?.message).to.match(/autoResendUnfulfilledCommands must be false .*SAFE_REDIS_OPTIONS/);
    } finally {
      safe.disconnect();
      for (const client of unsafe) client.disconnect();
    }
  });

  it('finds the Cluster-specific risks (re-send after "Connection is closed", node options)', () => {
    const cluster = new Cluster([{ host: '127.0.0.1', port: 1 }], { lazyConnect: true });
    try {
      const problems = unsafeRedisClientSettings(cluster).join('\n');
      expect(problems).to.match(/retryDelayOnFailover/).and.match(/redisOptions\.autoResendUnfulfilledCommands/).and.match(/redisOptions\.maxRetriesPerRequest/);
    } finally {
      cluster.disconnect();
    }
  });
});
