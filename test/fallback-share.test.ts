/**
 * The 'local' failure mode's share during a Redis outage counts processes, not limiters: one
 * application process with two limiters keeps each limiter's whole L, and N processes get
 * ceil(L / N) each. Real throwaway redis-server (killed for the outage), real child processes.
 */
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { expect } from 'chai';
import { RateLimiter, RedisStore } from '@slidegate/core';
import { startRedis, type RedisServer } from '@slidegate/test-utils';

const WORKER = path.join(__dirname, 'workers', 'idle-limiters.mjs');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function liveCount(limiter: RateLimiter, n: number): Promise<number | undefined> {
  for (let i = 0; i < 250 && limiter.resilientStore?.instances !== n; i++) await sleep(20);
  return limiter.resilientStore?.instances;
}

/** Allowed decisions among `n` checks of one client, all decided in fallback. */
async function allowedInOutage(limiter: RateLimiter, client: string, n: number): Promise<number> {
  let allowed = 0;
  for (let i = 0; i < n; i++) {
    const d = await limiter.check(client);
    expect(d.source, 'decided without the store').to.equal('fallback');
    if (d.allowed) allowed++;
  }
  return allowed;
}

describe('fault: the local share during an outage counts processes, not limiters (real Redis)', function () {
  this.timeout(30_000);
  let server: RedisServer;
  const prefix = `fallback-share:${process.pid}:`;
  const cleanups: Array<() => Promise<unknown> | unknown> = [];

  beforeEach(async () => {
    server = await startRedis();
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    await server.stop();
  });

  function twoLimiters(): [RateLimiter, RateLimiter] {
    const store = RedisStore.fromUrl(server.url, { prefix });
    const limiters = [5, 10].map((limit) => new RateLimiter({ limit, windowSeconds: 60, store, onError: () => undefined })) as [RateLimiter, RateLimiter];
    cleanups.push(async () => {
      for (const limiter of limiters) await limiter.close();
      await store.close();
    });
    return limiters;
  }

  it('a lone process with two limiters on one store keeps each full limit through an outage', async () => {
    const [five, ten] = twoLimiters();
    expect(await liveCount(five, 1)).to.equal(1);
    // A first beat that found the connection not ready yet is retried after a second.
    await sleep(1500);
    const admin = server.client();
    expect(await admin.zcard(`${prefix}{instances}`), 'live members of the set: one process').to.equal(1);
    admin.disconnect();
    await server.kill();
    expect(await allowedInOutage(five, 'c5', 7)).to.equal(5);
    expect(await allowedInOutage(ten, 'c10', 12)).to.equal(10);
  });

  it('two processes (two limiters each) get ceil(L / 2) each', async () => {
    const [five, ten] = twoLimiters();
    const child: ChildProcess = fork(WORKER, [JSON.stringify({ url: server.url, prefix })], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    cleanups.push(() => child.kill());
    await new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve());
      child.once('exit', (code) => reject(new Error(`worker exited with ${code}`)));
    });
    // The parent learns of the child at its next beat (every 5 s).
    expect(await liveCount(five, 2)).to.equal(2);
    expect(await liveCount(ten, 2)).to.equal(2);
    await server.kill();
    expect(await allowedInOutage(five, 'c5', 7)).to.equal(3);
    expect(await allowedInOutage(ten, 'c10', 12)).to.equal(5);
  });
});
