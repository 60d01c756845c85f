/**
 * A client flooding over its limit on RedisStore with the defaults (leases and the denial cache):
 * what it costs Redis, counted on a server of the test's own (INFO), and that it never admits more
 * than the limit. Also the store side of it: a check that gives lease units back writes the
 * client's value once, and requests queued behind an acquisition that is denied are answered from
 * that denial.
 */
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { RateLimiter, RedisStore, SAFE_REDIS_OPTIONS, type Decision, type StoreCheckRequest } from '../src/index';
import { startRedis, type RedisServer } from '@slidegate/test-utils';
import { decisionFields } from './support/model';

const T_MS = 1_700_000_000_000;

/** Calls of each command since the last reset (INFO commandstats), e.g. { evalsha: 1, getrange: 1, set: 1 }. */
async function commandCalls(admin: Redis): Promise<Record<string, number>> {
  const calls: Record<string, number> = {};
  for (const line of (await admin.info('commandstats')).split('\n')) {
    const match = /^cmdstat_([a-z|]+):calls=(\d+)/.exec(line);
    if (match !== null && match[1] !== 'info' && !match[1]!.startsWith('config')) calls[match[1]!] = Number(match[2]);
  }
  return calls;
}

async function commandsProcessed(admin: Redis): Promise<number> {
  return Number(/total_commands_processed:(\d+)/.exec(await admin.info('stats'))?.[1]);
}

describe('a flood from one client on RedisStore with the defaults (a Redis of its own)', function () {
  this.timeout(60_000);
  let server: RedisServer;
  let client: Redis;
  let admin: Redis;
  let run = 0;
  const toClose: Array<{ close(): Promise<void> }> = [];

  before(async () => {
    server = await startRedis();
    client = new Redis(server.url, { ...SAFE_REDIS_OPTIONS, enableAutoPipelining: true, lazyConnect: true });
    await client.connect();
    admin = new Redis(server.url);
  });

  afterEach(async () => {
    for (const c of toClose.splice(0)) await c.close();
  });

  after(async () => {
    client.disconnect();
    admin.disconnect();
    await server.stop();
  });

  const store = (): RedisStore => {
    const s = new RedisStore({ client, prefix: `flood${++run}:` });
    toClose.push(s);
    return s;
  };
  const limiter = (options: ConstructorParameters<typeof RateLimiter>[0]): RateLimiter => {
    const l = new RateLimiter({ timeoutMs: 5000, ...options });
    toClose.unshift(l);
    return l;
  };
  const request = (clientId: string, tMs: number, extra: number, limit = 100): StoreCheckRequest => ({
    clientId,
    timestamp: tMs,
    cost: 1,
    defaults: { limit, windowSeconds: 10 },
    algorithm: 'sliding-window',
    bucketMs: undefined,
    extra,
    limitFactor: 1,
  });

  it('a check that gives lease units back reads and writes the client once, as one without a release does', async () => {
    const s = store();
    const granted = await s.check(request('c', T_MS, 10));
    expect(granted).to.include({ allowed: true, granted: 10 });
    await admin.config('RESETSTAT');
    const next = await s.check({ ...request('c', T_MS + 200, 4), release: { at: T_MS, units: 6, clock: T_MS + 3 } });
    // 1 + 10 recorded, 6 given back, 1 + 4 recorded now: 10 of 100 used.
    expect(next).to.include({ allowed: true, granted: 4, remaining: 90 });
    expect(await commandCalls(admin)).to.deep.equal({ evalsha: 1, getrange: 1, set: 1 });
  });

  it('a denied check with a release, and a release alone, write the client once', async () => {
    const s = store();
    expect(await s.check(request('full', T_MS, 9, 10))).to.include({ allowed: true, granted: 9, remaining: 0 });
    // Loads the release script (a first EVALSHA meets NOSCRIPT and goes as EVAL).
    await s.release('other', 'sliding-window', { at: T_MS, units: 1 }, { limit: 10, windowSeconds: 10 });
    await admin.config('RESETSTAT');
    // The lease decided up to T + 5 (its clock); the late request is decided at that time, and denied.
    const denied = await s.check({ ...request('full', T_MS + 1, 0, 10), release: { at: T_MS, units: 0, clock: T_MS + 5 } });
    expect(denied).to.include({ allowed: false, remaining: 0, timestamp: (T_MS + 5) / 1000 });
    await s.release('full', 'sliding-window', { at: T_MS, units: 3 }, { limit: 10, windowSeconds: 10 });
    expect(await commandCalls(admin)).to.deep.equal({ evalsha: 2, getrange: 2, set: 2 });
    expect(await s.check(request('full', T_MS + 6, 0, 10))).to.include({ allowed: true, remaining: 2 });
  });

  it('requests queued behind an acquisition that comes back denied are answered from that denial, not each by the store', async () => {
    const s = store();
    let nowMs = T_MS;
    const flooded = limiter({ limit: 5, windowSeconds: 10, store: s, now: () => nowMs / 1000 });
    // Another instance used the whole limit: this one knows nothing of the client yet.
    const other = limiter({ limit: 5, windowSeconds: 10, store: s, lease: false, denialCache: false, now: () => nowMs / 1000 });
    expect(await other.check('c', { cost: 5 })).to.include({ allowed: true, remaining: 0 });
    await admin.config('RESETSTAT');
    const pending: Array<Promise<Decision>> = [];
    for (let i = 0; i < 50; i++) {
      nowMs++;
      pending.push(flooded.check('c'));
    }
    const decisions = await Promise.all(pending);
    expect(decisions.every((d) => !d.allowed)).to.equal(true);
    // The first of a client new to the instance asks the store on its own; the next acquires, and the other 48 wait for it.
    expect(decisions.filter((d) => d.source === 'store')).to.have.length(2);
    expect((await commandCalls(admin)).evalsha, 'check script calls').to.equal(2);
    // Each one is the store's own answer at its time, source aside (a denial records nothing).
    for (const d of decisions) expect(decisionFields(d)).to.deep.equal(decisionFields(await other.check('c', { timestamp: d.timestamp })));
  });

  it('once a lease that took the last units is spent, a request is denied here as the store would deny it, with no store call', async () => {
    const s = store();
    let nowMs = T_MS;
    const flooded = limiter({ limit: 10, windowSeconds: 10, store: s, now: () => nowMs / 1000 });
    const plain = limiter({ limit: 10, windowSeconds: 10, store: s, lease: false, denialCache: false, now: () => nowMs / 1000 });
    // Ten at once: the first asks the store on its own, the second acquires, and the eight queued behind
    // it are one more acquisition, whose lease takes the rest.
    const first = await Promise.all(Array.from({ length: 10 }, () => flooded.check('c')));
    expect(first.every((d) => d.allowed)).to.equal(true);
    expect(first.filter((d) => d.source === 'lease')).to.have.length(7);
    await admin.config('RESETSTAT');
    nowMs += 40;
    const denied = await flooded.check('c');
    expect(denied).to.include({ allowed: false, source: 'cache' });
    nowMs += 1;
    expect(await flooded.check('c')).to.include({ allowed: false, source: 'cache' });
    // No check script ran (the heartbeat, an EVAL of its own, may).
    const calls = await commandCalls(admin);
    expect([calls.evalsha, calls.getrange], 'no store call').to.deep.equal([undefined, undefined]);
    expect(decisionFields(denied)).to.deep.equal(decisionFields(await plain.check('c', { timestamp: denied.timestamp })));
    // A unit given back (release) frees room that the lease's grant did not know of: the store decides again.
    await flooded.release('c', first[0]!);
    expect(await flooded.check('c')).to.include({ allowed: true, source: 'store', remaining: 0 });
    // Another cost asks the store.
    expect(await flooded.check('c', { cost: 2 })).to.include({ allowed: false, source: 'store' });
  });

  it('a request past the bucket of a lease that took the last units asks the store, which allows it once the unspent units go back', async () => {
    const s = store();
    const g = 167; // the bucket of a 10 s window
    let nowMs = Math.ceil(T_MS / g) * g;
    const limiter2 = limiter({ limit: 50, windowSeconds: 10, store: s, now: () => nowMs / 1000 });
    // One request a ms: once its rate is known, a lease takes what its bucket can spend, which is all that is left.
    const sources: string[] = [];
    for (let i = 0; i < 30; i++) {
      nowMs++;
      const d = await limiter2.check('c');
      expect(d.allowed).to.equal(true);
      sources.push(d.source);
    }
    expect(sources.slice(-5)).to.deep.equal(Array(5).fill('lease'));
    nowMs = Math.ceil(nowMs / g) * g + 1;
    expect(await limiter2.check('c')).to.include({ allowed: true, source: 'store' });
  });

  it('10x its limit for 25 s: at most 0.01 Redis commands a request, never more than L in any window, L reached', async () => {
    const limit = 1000;
    const windowMs = 10_000;
    const s = store();
    let nowMs = T_MS;
    const flooded = limiter({ limit, windowSeconds: windowMs / 1000, store: s, now: () => nowMs / 1000 });
    const before = await commandsProcessed(admin);
    // 1000 requests a second (ten times L / W), 20 in flight: each group of 20 comes 1 ms apart and is awaited together.
    const allowedAt: number[] = [];
    let requests = 0;
    while (nowMs < T_MS + 25_000) {
      const group: Array<Promise<Decision>> = [];
      for (let i = 0; i < 20; i++) {
        nowMs++;
        group.push(flooded.check('flood'));
      }
      for (const d of await Promise.all(group)) {
        requests++;
        if (d.allowed) allowedAt.push(Math.round(d.timestamp * 1000));
      }
    }
    // Minus the INFO below itself; the limiter's heartbeat counts (it is part of the cost).
    const commands = (await commandsProcessed(admin)) - before - 1;
    expect(commands / requests, `${commands} commands for ${requests} requests`).to.be.at.most(0.01);
    allowedAt.sort((a, b) => a - b);
    let fullest = 0;
    for (let first = 0, last = 0; last < allowedAt.length; last++) {
      while (allowedAt[first]! <= allowedAt[last]! - windowMs) first++;
      fullest = Math.max(fullest, last - first + 1);
    }
    expect(fullest, 'the most allowed in any window of W').to.equal(limit);
    // Three windows started in 25 s, each used up by the flood (L admitted, less what the buckets hold back).
    expect(allowedAt.length).to.be.greaterThan(2.4 * limit);
  });
});
