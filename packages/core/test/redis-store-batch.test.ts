import { createHash } from 'node:crypto';
import { expect } from 'chai';
import fc from 'fast-check';
import type { Redis } from 'ioredis';
import { startRedis, type RedisServer } from '@slidegate/test-utils';
import { RateLimiter, StoreError } from '../src/index';
import { RedisStore } from '../src/stores/redis-store';
import { clientKeys } from '../src/stores/redis/key-encoding';
import { classifyStoreError } from '../src/faults/store-errors';
import type { Algorithm, Decision, StoreCheckRequest } from '../src/types';
import { ErrorCodes } from '../src/errors';
import { SLIDING_WINDOW_CHECK, SLIDING_WINDOW_CHECK_BATCH } from '../src/stores/redis/scripts';

const ALGORITHMS: Algorithm[] = ['sliding-window', 'sliding-log', 'sliding-counter'];
const T0 = 1_700_000_000;

/** EVALSHA and EVAL calls the server has run so far (INFO commandstats). */
async function scriptCalls(client: Redis): Promise<number> {
  const info = await client.info('commandstats');
  let calls = 0;
  for (const match of info.matchAll(/^cmdstat_(?:evalsha|eval):calls=(\d+)/gm)) calls += Number(match[1]);
  return calls;
}

function request(clientId: string, algorithm: Algorithm, timestamp: number, cost = 1, limit = 5): StoreCheckRequest {
  return { clientId, algorithm, timestamp, cost, defaults: { limit, windowSeconds: 10 }, extra: 0, limitFactor: 1 };
}

/** The fields a decision is judged by (source and the like are the same on both sides). */
function fields(d: Decision): Omit<Decision, 'source'> {
  const { source: _source, ...rest } = d;
  return rest;
}

describe('RedisStore batches the checks made in one turn of the event loop', function () {
  this.timeout(60_000);
  let server: RedisServer;
  let client: Redis;
  let prefixCount = 0;
  const prefix = (): string => `batch${++prefixCount}:`;

  before(async () => {
    // A server of its own, so that INFO commandstats counts only these tests' calls.
    server = await startRedis();
    client = server.client();
  });

  after(async () => {
    client?.disconnect();
    await server?.stop();
  });

  it('refuses a bad maxBatch with a clear error, before touching the client', () => {
    expect(() => new RedisStore({ client, maxBatch: 0 })).to.throw(RangeError, /options\.maxBatch must be an integer from 1 \(no batching\) to 1000; got number 0/);
    expect(() => new RedisStore({ client, maxBatch: 1.5 })).to.throw(RangeError, /maxBatch.*got number 1\.5/);
    expect(() => new RedisStore({ client, maxBatch: '8' as unknown as number })).to.throw(TypeError, /maxBatch.*got string "8"/);
    expect(() => RedisStore.fromUrl(server.url, { maxBatch: 5000 })).to.throw(RangeError, /maxBatch.*got number 5000/);
  });

  for (const algorithm of ALGORITHMS) {
    it(`${algorithm}: 12 checks of one client in one turn are one script call, decided in order like 12 calls`, async () => {
      const batched = new RedisStore({ client, prefix: prefix() });
      const single = new RedisStore({ client, prefix: prefix(), maxBatch: 1 });
      // Loads both scripts first (a first call on a fresh server is EVALSHA, NOSCRIPT, then EVAL): the
      // first of three checks goes at once, the other two as a batch.
      await Promise.all([1, 2, 3].map(() => batched.check(request('warm', algorithm, T0))));
      await single.check(request('warm', algorithm, T0));
      const before = await scriptCalls(client);
      const together = await Promise.all(Array.from({ length: 12 }, () => batched.check(request('hot', algorithm, T0))));
      const afterBatch = await scriptCalls(client);
      const oneByOne: Decision[] = [];
      for (let i = 0; i < 12; i++) oneByOne.push(await single.check(request('hot', algorithm, T0)));
      const afterSingle = await scriptCalls(client);

      // The store was idle, so the first went at once; the other 11 waited for the turn to end.
      expect(afterBatch - before, 'script calls for the 12 checks').to.equal(2);
      expect(afterSingle - afterBatch, 'script calls one by one').to.equal(12);
      expect(together.map((d) => d.allowed)).to.deep.equal([...Array(5).fill(true), ...Array(7).fill(false)]);
      expect(together.map((d) => d.remaining)).to.deep.equal([4, 3, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
      expect(together.map(fields)).to.deep.equal(oneByOne.map(fields));
      await Promise.all([batched.close(), single.close()]);
    });
  }

  it('checks made by separate callbacks of one turn (requests read from several sockets) share a call', async () => {
    const store = new RedisStore({ client, prefix: prefix() });
    await Promise.all([1, 2, 3].map(() => store.check(request('warm', 'sliding-window', T0))));
    const before = await scriptCalls(client);
    const decisions = await new Promise<Decision[]>((resolve, reject) => {
      const pending: Promise<Decision>[] = [];
      // Three callbacks of one turn of the event loop, as three sockets' data events would be.
      setImmediate(() => pending.push(store.check(request('one', 'sliding-window', T0))));
      setImmediate(() => pending.push(store.check(request('two', 'sliding-window', T0))));
      setImmediate(() => {
        pending.push(store.check(request('one', 'sliding-window', T0)));
        Promise.all(pending).then(resolve, reject);
      });
    });
    // The first goes at once (the store is idle); the two after it share one call.
    expect((await scriptCalls(client)) - before).to.equal(2);
    expect(decisions.map((d) => d.remaining)).to.deep.equal([4, 4, 3]);
    await store.close();
  });

  it('splits a tick of more than maxBatch checks into calls of at most maxBatch; exactly the limit is allowed', async () => {
    const store = new RedisStore({ client, prefix: prefix(), maxBatch: 128 });
    await Promise.all([1, 2, 3].map(() => store.check(request('warm', 'sliding-window', T0))));
    const before = await scriptCalls(client);
    const decisions = await Promise.all(Array.from({ length: 300 }, () => store.check(request('split', 'sliding-window', T0, 1, 250))));
    // The first at once, then 128, 128 (each sent as it fills) and the last 43.
    expect((await scriptCalls(client)) - before).to.equal(4);
    expect(decisions.filter((d) => d.allowed)).to.have.length(250);
    expect(decisions.findIndex((d) => !d.allowed)).to.equal(250);
    await store.close();
  });

  it('any mix of clients, algorithms, costs, times, defaults, leases and releases in one turn decides exactly as one by one', async () => {
    const check = fc.record({
      client: fc.constantFrom('a', 'b', 'c'),
      algorithm: fc.constantFrom(...ALGORITHMS),
      step: fc.integer({ min: -3, max: 6 }),
      cost: fc.integer({ min: 1, max: 4 }),
      limit: fc.constantFrom(6, 6, 6, 4),
      extra: fc.constantFrom(0, 0, 0, 2),
      limitFactor: fc.constantFrom(1, 1, 1, 0.5),
      release: fc.option(fc.record({ back: fc.integer({ min: 0, max: 3 }), units: fc.integer({ min: 1, max: 3 }) }), { freq: 4 }),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(check, { minLength: 1, maxLength: 60 }), async (checks) => {
        const batched = new RedisStore({ client, prefix: prefix() });
        const single = new RedisStore({ client, prefix: prefix(), maxBatch: 1 });
        let t = T0;
        const requests = checks.map((c): StoreCheckRequest => {
          t = Math.max(T0, t + c.step);
          return {
            ...request(c.client, c.algorithm, t, c.cost, c.limit),
            extra: c.extra,
            limitFactor: c.limitFactor,
            release: c.release === null ? undefined : { at: t - c.release.back, units: c.release.units },
          };
        });
        await decideBothWays(client, batched, single, requests);
        await Promise.all([batched.close(), single.close()]);
      }),
      { numRuns: 60 },
    );
  });

  it("runs of a hot client's plain checks (the same time and defaults, cost 1), over several turns and past the limit, decide exactly as one by one", async () => {
    // Mostly plain checks of one or two clients at the same ms, so batches hold long runs, broken now
    // and then by a new ms, another cost, a lease, a client with a limit of its own, or the limit itself.
    const check = fc.record({
      client: fc.constantFrom('hot', 'hot', 'hot', 'other', 'configured'),
      step: fc.constantFrom(0, 0, 0, 0, 0, 1, 400, 2_000),
      cost: fc.constantFrom(1, 1, 1, 1, 1, 1, 2),
      extra: fc.constantFrom(0, 0, 0, 0, 0, 0, 3),
      limit: fc.constantFrom(20, 20, 20, 7),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(check, { minLength: 1, maxLength: 40 }), { minLength: 1, maxLength: 3 }), async (turns) => {
        const batched = new RedisStore({ client, prefix: prefix() });
        const single = new RedisStore({ client, prefix: prefix(), maxBatch: 1 });
        for (const store of [batched, single]) await store.setLimit({ clientId: 'configured', limit: { limit: 9, windowSeconds: 5 }, defaults: { limit: 20, windowSeconds: 10 }, algorithm: 'sliding-window' });
        let t = T0;
        for (const turn of turns) {
          const requests = turn.map((c): StoreCheckRequest => {
            t += c.step;
            return { ...request(c.client, 'sliding-window', t, c.cost, c.limit), extra: c.extra };
          });
          await decideBothWays(client, batched, single, requests);
        }
        await Promise.all([batched.close(), single.close()]);
      }),
      { numRuns: 60 },
    );
  });

  it('a hot client with a full window (a value too large to hand on, changed in place) decides its runs exactly as one by one, up to and past its limit', async () => {
    const batched = new RedisStore({ client, prefix: prefix() });
    const single = new RedisStore({ client, prefix: prefix(), maxBatch: 1 });
    const key = clientKeys(batched.prefix, 'full').slidingWindow;
    let denied = 0;
    // 10 s windows have 167 ms buckets, so one turn a bucket: the value passes 540 bytes (what is
    // handed on) after about 32 turns, the limit is reached at turn 49, and turns 50 to 59 are denied.
    for (let turn = 0; turn < 62; turn++) {
      const requests = Array.from({ length: 6 }, () => request('full', 'sliding-window', T0 + turn * 170, 1, 300));
      const together = await decideBothWays(client, batched, single, requests, `turn ${turn}`);
      denied += together.filter((d) => !d.allowed).length;
      if (turn === 45) expect((await client.getBuffer(key))?.length, 'the value outgrew what is handed on').to.be.greaterThan(540);
    }
    expect(denied).to.equal(60);
    await Promise.all([batched.close(), single.close()]);
  });

  it('a failing entry amid a run of one client hands on what it was handed: the others decide as one by one, and Redis holds the same', async () => {
    const batched = new RedisStore({ client, prefix: prefix() });
    const single = new RedisStore({ client, prefix: prefix(), maxBatch: 1 });
    // A cost that is no number fails inside the script (the limiter would refuse it before).
    const bad = { ...request('hot', 'sliding-window', T0), cost: 'x' as unknown as number };
    const outcomes = await Promise.allSettled([
      batched.check(request('hot', 'sliding-window', T0)),
      batched.check(request('hot', 'sliding-window', T0)),
      batched.check(bad),
      batched.check(request('hot', 'sliding-window', T0, 2)),
    ]);
    const expected = [await single.check(request('hot', 'sliding-window', T0)), await single.check(request('hot', 'sliding-window', T0))];
    const failed = await single.check(bad).then(
      () => 'fulfilled',
      () => 'rejected',
    );
    expected.push(await single.check(request('hot', 'sliding-window', T0, 2)));
    expect(failed).to.equal('rejected');
    expect(outcomes.map((o) => o.status)).to.deep.equal(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    const decided = outcomes.filter((o): o is PromiseFulfilledResult<Decision> => o.status === 'fulfilled').map((o) => fields(o.value));
    expect(decided).to.deep.equal(expected.map(fields));
    expect(decided.map((d) => d.remaining)).to.deep.equal([4, 3, 1]);
    expect(await statesUnder(client, batched.prefix)).to.deep.equal(await statesUnder(client, single.prefix));
    await Promise.all([batched.close(), single.close()]);
  });

  it("one entry's Redis error (WRONGTYPE) fails that check alone, coded as WRONGTYPE; the rest of the batch is decided", async () => {
    const p = prefix();
    const store = new RedisStore({ client, prefix: p });
    await client.hset(clientKeys(p, 'broken').slidingWindow, 'not', 'a string');
    const outcomes = await Promise.allSettled([
      store.check(request('fine-1', 'sliding-window', T0)),
      store.check(request('broken', 'sliding-window', T0)),
      store.check(request('fine-2', 'sliding-window', T0)),
    ]);
    expect(outcomes.map((o) => o.status)).to.deep.equal(['fulfilled', 'rejected', 'fulfilled']);
    const error = (outcomes[1] as PromiseRejectedResult).reason as unknown;
    expect(error).to.be.instanceOf(StoreError);
    expect((error as Error).message).to.match(/WRONGTYPE/);
    expect(classifyStoreError(error, 'check').error.code).to.equal(ErrorCodes.STORE_WRONG_TYPE);
    expect((outcomes[2] as PromiseFulfilledResult<Decision>).value).to.include({ allowed: true, remaining: 4 });
    expect(await client.type(clientKeys(p, 'broken').slidingWindow), 'the broken key is left alone').to.equal('hash');
    await store.close();
  });

  it('a batch after SCRIPT FLUSH loads its script again (NOSCRIPT) and decides every check once', async () => {
    const store = new RedisStore({ client, prefix: prefix() });
    // Every check asks the store (no lease), so the five waiting ones go as one batch.
    const limiter = new RateLimiter({ limit: 6, windowSeconds: 10, store, timeoutMs: 5_000, lease: false });
    await client.script('FLUSH');
    // The first goes at once and the other five as a batch; both scripts are missing and reloaded.
    // (Their retries may reach Redis in either order: concurrent checks have no order of their own.)
    const decisions = await Promise.all(Array.from({ length: 6 }, () => limiter.check('flushed', { timestamp: T0 })));
    expect(decisions.map((d) => [d.allowed, d.source])).to.deep.equal(Array(6).fill([true, 'store']));
    expect(decisions.map((d) => d.remaining).sort()).to.deep.equal([0, 1, 2, 3, 4, 5]);
    // Each counted once: the limit is reached, not passed.
    expect(await limiter.check('flushed', { timestamp: T0 })).to.include({ allowed: false, remaining: 0, source: 'store' });
    await limiter.close();
    await store.close();
  });

  it('a lone check is sent at once, with the single-check script (no batch wrapper)', async () => {
    const store = new RedisStore({ client, prefix: prefix() });
    await client.script('FLUSH');
    expect(await store.check(request('lone', 'sliding-window', T0))).to.include({ allowed: true, remaining: 4 });
    // After the flush only the script that ran is loaded again (by the NOSCRIPT fallback).
    expect(await client.script('EXISTS', sha1(SLIDING_WINDOW_CHECK), sha1(SLIDING_WINDOW_CHECK_BATCH))).to.deep.equal([1, 0]);
    // Three at once: the first alone (the store is idle), the other two as a batch.
    await Promise.all([1, 2, 3].map(() => store.check(request('lone', 'sliding-window', T0))));
    expect(await client.script('EXISTS', sha1(SLIDING_WINDOW_CHECK), sha1(SLIDING_WINDOW_CHECK_BATCH))).to.deep.equal([1, 1]);
    await store.close();
  });
});

/**
 * Decides `requests` on `batched` all at once (one batch) and on `single` one by one, and expects the same
 * decisions and the same state left in Redis (a run of one client's entries writes once, at its end).
 */
async function decideBothWays(client: Redis, batched: RedisStore, single: RedisStore, requests: StoreCheckRequest[], label = ''): Promise<Decision[]> {
  const together = await Promise.all(requests.map((r) => batched.check(r)));
  const oneByOne: Decision[] = [];
  for (const r of requests) oneByOne.push(await single.check(r));
  expect(together.map(fields), label).to.deep.equal(oneByOne.map(fields));
  expect(await statesUnder(client, batched.prefix), label).to.deep.equal(await statesUnder(client, single.prefix));
  return together;
}

/** Every key under a prefix (with the prefix cut off) and its state: value or members, and whether it expires. */
async function statesUnder(client: Redis, prefix: string): Promise<Record<string, unknown>> {
  const keys = await client.keys(`${prefix}*`);
  const states: Record<string, unknown> = {};
  for (const key of keys.sort()) {
    const type = await client.type(key);
    const value =
      type === 'string' ? (await client.getBuffer(key))?.toString('hex') : type === 'zset' ? await client.zrange(key, 0, -1, 'WITHSCORES') : await client.hgetall(key);
    states[key.slice(prefix.length)] = { value, expires: (await client.pttl(key)) > 0 };
  }
  return states;
}

function sha1(text: string): string {
  return createHash('sha1').update(text).digest('hex');
}
