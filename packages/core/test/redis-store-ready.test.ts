import { ErrorCodes, RateLimiter, RedisStore, StoreError } from '@slidegate/core';
import { freePort, sharedRedis, type SharedRedis } from '@slidegate/test-utils';
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';

// A store made at start-up is still connecting when the program's next line runs: writes wait for it (bounded)
// instead of failing with "Stream isn't writeable", and `ready()` lets a program wait for it explicitly.
describe('RedisStore while connecting: ready() and writes that wait', function () {
  this.timeout(20_000);
  let shared: SharedRedis;
  const stores: RedisStore[] = [];
  const limiters: RateLimiter[] = [];
  const prefix = `sg-ready-${randomUUID().slice(0, 8)}:`;

  before(async () => {
    shared = await sharedRedis();
  });

  afterEach(async () => {
    for (const limiter of limiters.splice(0)) await limiter.close();
    for (const store of stores.splice(0)) await store.close();
  });

  after(async () => {
    await shared.stop();
  });

  const open = (url: string): RedisStore => {
    const store = RedisStore.fromUrl(url, { prefix });
    stores.push(store);
    return store;
  };

  it('updateLimit right after fromUrl waits for the connection and stores the limit (regression)', async () => {
    const store = open(shared.url);
    const limiter = new RateLimiter({ limit: 5, windowSeconds: 60, store });
    limiters.push(limiter);
    await limiter.updateLimit('gold-key', 1000, 60);
    expect(await limiter.getLimit('gold-key')).to.deep.equal({ limit: 1000, windowSeconds: 60 });
  });

  it('ready() resolves once connected, and at once after that', async () => {
    const store = open(shared.url);
    await store.ready();
    const started = performance.now();
    await store.ready(0);
    expect(performance.now() - started).to.be.below(50);
  });

  it('with nothing listening, ready(timeoutMs) rejects with a connection error after about timeoutMs', async () => {
    const store = open(`redis://127.0.0.1:${await freePort()}`);
    const started = performance.now();
    const error = await store.ready(300).then(() => undefined, (e: unknown) => e);
    const took = performance.now() - started;
    expect(error).to.be.instanceOf(StoreError);
    expect((error as StoreError).code).to.equal(ErrorCodes.STORE_CONNECTION);
    expect((error as StoreError).message).to.match(/not connected within 300 ms/);
    expect(took).to.be.within(250, 1500);
  });

  it('with nothing listening, updateLimit fails with a connection error within its deadline instead of hanging', async () => {
    const store = open(`redis://127.0.0.1:${await freePort()}`);
    const limiter = new RateLimiter({ limit: 5, windowSeconds: 60, store });
    limiters.push(limiter);
    const started = performance.now();
    const error = await limiter.updateLimit('k', 10, 60).then(() => undefined, (e: unknown) => e);
    expect(error).to.be.instanceOf(StoreError);
    expect((error as StoreError).code).to.equal(ErrorCodes.STORE_CONNECTION);
    expect(performance.now() - started).to.be.below(1500);
  });

  it('ready() after close() rejects: the connection has ended', async () => {
    const store = open(shared.url);
    await store.ready();
    await store.close();
    const error = await store.ready().then(() => undefined, (e: unknown) => e);
    expect((error as StoreError).code).to.equal(ErrorCodes.STORE_CONNECTION);
  });

  it('refuses a bad ready() timeout and an undefined url with messages that say what to do', async () => {
    const store = open(shared.url);
    const error = await store.ready(-1).then(() => undefined, (e: unknown) => e);
    expect(error).to.be.instanceOf(RangeError);
    expect((error as Error).message).to.match(/timeoutMs must be a finite number >= 0; got number -1/);
    expect(() => RedisStore.fromUrl(process.env.SLIDEGATE_NO_SUCH_VARIABLE as unknown as string)).to.throw(TypeError, /url must be a string; got undefined \(is REDIS_URL set\? Pass a URL such as 'redis:\/\/127.0.0.1:6379', or no store to keep limits in this process\)/);
  });
});
