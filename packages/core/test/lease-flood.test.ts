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

const fields = ({ allowed, limit, windowSeconds, remaining, retryAfter, resetAfter, timestamp }: Decision): Partial<Decision> => ({
  allowed,
  limit,
  windowSeconds,
  remaining,
  retryAfter,
  resetAfter,
  timestamp,
});

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
});
