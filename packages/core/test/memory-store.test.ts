import { expect } from 'chai';
import { RateLimiter, type Algorithm } from '../src/index';
import { MemoryStore, SWEEP_BUDGET } from '../src/stores/memory-store';
import { LATE_ARRIVAL_GRACE_MS } from '../src/time';

const ALGORITHMS: readonly Algorithm[] = ['sliding-window', 'sliding-log', 'sliding-counter'];

/** A MemoryStore on a clock the test moves by hand, and a limiter on it. */
function setup(options: { limit: number; windowSeconds: number; algorithm?: Algorithm; maxClients?: number; sweepIntervalMs?: number }) {
  const clock = { now: 1_000 };
  const store = new MemoryStore({ now: () => clock.now, sweepIntervalMs: options.sweepIntervalMs ?? 0, maxClients: options.maxClients });
  const limiter = new RateLimiter({
    limit: options.limit,
    windowSeconds: options.windowSeconds,
    algorithm: options.algorithm ?? 'sliding-window',
    store,
  });
  const close = async (): Promise<void> => {
    await limiter.close();
    await store.close();
  };
  return { clock, store, limiter, close };
}

describe('MemoryStore', () => {
  for (const algorithm of ALGORITHMS) {
    it(`'${algorithm}': clients whose window is empty are dropped by sweep() once W + g + ${LATE_ARRIVAL_GRACE_MS} ms of the store's clock have passed (rounded up to a second), and start fresh`, async () => {
      const { clock, store, limiter, close } = setup({ limit: 2, windowSeconds: 60, algorithm });
      // Request timestamps far from the store's clock: expiry is relative to the store's clock only.
      for (let i = 0; i < 100; i++) {
        expect(await limiter.isAllowed(`c${i}`, 1_700_000_000)).to.equal(true);
        expect(await limiter.isAllowed(`c${i}`, 1_700_000_000)).to.equal(true);
      }
      expect(store.size).to.equal(100);
      // W = 60 s: g = 1 s, so a client lives at least 62 s after its last allowed request.
      clock.now += 61;
      store.sweep();
      expect(store.size, 'a client lives at least W + g + the grace after its last allowed request').to.equal(100);
      expect(await limiter.isAllowed('c0', 1_700_000_000), 'still remembered: full').to.equal(false);
      clock.now += 1;
      store.sweep();
      expect(store.size).to.equal(0);
      // Forgotten, clock included: the same request at the same timestamp starts a fresh window.
      expect(await limiter.check('c0', { timestamp: 1_700_000_000 })).to.include({ allowed: true, remaining: 1 });
      await close();
    });
  }

  // Regression: the primary of a node:cluster host (ClusterStore) forgot a client W + g after a
  // window filled in one burst; requests stamped inside that window reached it later than that
  // (its IPC queue was long) and were admitted on a fresh window, a lease of more units with them.
  // The exact algorithms: the counter's estimate may allow such a request on its own.
  for (const algorithm of ['sliding-window', 'sliding-log'] as const) {
    it(`'${algorithm}': a request stamped inside the window that reaches the store up to ${LATE_ARRIVAL_GRACE_MS} ms late still counts every unit of it, after W + g with nothing allowed`, () => {
      // Timestamps on the store's own clock, as a real-time limiter sends them; the write lands so that
      // W + g (1.017 s) ends on a whole second of the store's clock, where the rounding adds nothing.
      const clock = { now: 1_000.983 };
      const store = new MemoryStore({ now: () => clock.now, sweepIntervalMs: 0 });
      const defaults = { limit: 5, windowSeconds: 1 };
      const check = (timestamp: number, extra: number) => store.checkSync({ clientId: 'c', timestamp, cost: 1, defaults, algorithm, extra, limitFactor: 1 });
      // One write fills the window: a check and a lease of the rest (the first grant after an outage).
      expect(check(1_000_983, 4)).to.include({ allowed: true, granted: 4 });
      for (const [storeClock, stamped] of [
        [1_002.0, 1_001_900], // W + g later (where the client used to be forgotten), stamped 100 ms before its window ends
        [1_002.9, 1_001_900], // 1 s late
      ] as const) {
        clock.now = storeClock;
        expect(check(stamped, 4), `store clock ${storeClock}, stamped ${stamped}`).to.include({ allowed: false, granted: 0 });
      }
      // Past W + g + the grace the client may be forgotten (SPEC, expiry), and starts fresh.
      clock.now = 1_003.0;
      store.sweep();
      expect(store.size).to.equal(0);
    });
  }

  it('each allowed request restarts the expiry, a denied one does not', async () => {
    const { clock, store, limiter, close } = setup({ limit: 2, windowSeconds: 60 });
    await limiter.isAllowed('a', 100); // store clock 1000: expires at 1000 + W + g + 1 = 1062
    clock.now = 1_050;
    await limiter.isAllowed('a', 150); // allowed: expires at 1112
    await limiter.isAllowed('a', 150); // denied (2 used): the expiry stays at 1112
    clock.now = 1_111;
    store.sweep();
    expect(store.size).to.equal(1);
    clock.now = 1_112;
    store.sweep();
    expect(store.size).to.equal(0);
    await close();
  });

  it("a client with its own longer window is kept for its own window, not the default's", async () => {
    const { clock, store, limiter, close } = setup({ limit: 1, windowSeconds: 10 });
    await limiter.updateLimit('long', 1, 3600);
    expect(await limiter.isAllowed('long', 100)).to.equal(true);
    expect(await limiter.isAllowed('short', 100)).to.equal(true);
    clock.now += 12;
    store.sweep();
    expect(store.size).to.equal(1);
    expect(await limiter.isAllowed('long', 200), 'still full: its window is an hour').to.equal(false);
    expect(await limiter.getLimit('long'), 'configs never expire').to.deep.equal({ limit: 1, windowSeconds: 3600 });
    await close();
  });

  it('a longer window set by updateLimit keeps the client for the new window (the change counts as a write)', async () => {
    const { clock, store, limiter, close } = setup({ limit: 1, windowSeconds: 10 });
    expect(await limiter.isAllowed('a', 100)).to.equal(true); // expires at store time 1010
    clock.now += 5;
    await limiter.updateLimit('a', 1, 3600); // now expires at 1005 + 3600
    clock.now += 10;
    store.sweep();
    expect(store.size).to.equal(1);
    expect(await limiter.isAllowed('a', 200), 'its request at 100 still counts in the hour window').to.equal(false);
    await close();
  });

  it('an expired client not yet swept starts fresh when it is next touched', async () => {
    const { clock, limiter, close } = setup({ limit: 1, windowSeconds: 10 });
    expect(await limiter.isAllowed('a', 100)).to.equal(true);
    // W + g + 1 s = 11.167 s, rounded up to a whole second of the store's clock.
    clock.now += 11;
    expect(await limiter.isAllowed('a', 100), 'not yet expired').to.equal(false);
    clock.now += 1;
    expect(await limiter.isAllowed('a', 100)).to.equal(true);
    await close();
  });

  for (const algorithm of ALGORITHMS) {
    it(`'${algorithm}': past maxClients the least recently used client is evicted, loses its history and starts fresh (an evicted client can be admitted again within its window)`, async () => {
      const { store, limiter, close } = setup({ limit: 1, windowSeconds: 3600, algorithm, maxClients: 3 });
      for (const id of ['a', 'b', 'c']) expect(await limiter.isAllowed(id, 100), id).to.equal(true);
      expect(await limiter.isAllowed('a', 101), 'a is full (and now the most recently used)').to.equal(false);
      expect(await limiter.isAllowed('d', 101)).to.equal(true); // evicts b, the least recently used
      expect(store.size).to.equal(3);
      expect(await limiter.isAllowed('a', 102), 'a kept its history').to.equal(false);
      expect(await limiter.isAllowed('c', 102), 'c kept its history').to.equal(false);
      // b was evicted: its window is forgotten, so it is admitted again inside the same hour. This
      // is the documented cost of the cap, which is why the default cap is large (1,000,000).
      expect(await limiter.isAllowed('b', 102), 'b starts fresh').to.equal(true);
      expect(store.size).to.equal(3);
      await close();
    });
  }

  it(`one sweep() examines at most ${SWEEP_BUDGET} clients (least recently used first), so it never stalls the event loop; repeated sweeps drop them all`, async () => {
    const { clock, store, limiter, close } = setup({ limit: 1, windowSeconds: 1 });
    const clients = SWEEP_BUDGET + 2_500;
    for (let i = 0; i < clients; i++) await limiter.check(`c${i}`, { timestamp: 100 });
    expect(store.size).to.equal(clients);
    clock.now += 3; // W + g + 1 s = 2.017 s, rounded up to whole seconds
    store.sweep();
    expect(store.size).to.equal(2_500);
    store.sweep();
    expect(store.size).to.equal(0);
    await close();
  });

  // Regression: each sweep used to restart at the least recently used client, so more than
  // SWEEP_BUDGET live clients there (long windows) hid every expired client behind them for good.
  it(`expired clients behind more than ${SWEEP_BUDGET} live ones are still dropped: sweeps resume where the last one stopped`, async () => {
    const { clock, store, limiter, close } = setup({ limit: 1, windowSeconds: 3600 });
    const live = SWEEP_BUDGET + 100;
    for (let i = 0; i < live; i++) await limiter.check(`live${i}`, { timestamp: 100 });
    for (let i = 0; i < 5; i++) {
      await limiter.updateLimit(`short${i}`, 1, 1);
      await limiter.check(`short${i}`, { timestamp: 100 });
    }
    clock.now += 3;
    for (let sweeps = 0; sweeps < 3; sweeps++) store.sweep();
    expect(store.size).to.equal(live);
    expect(await limiter.isAllowed('live0', 100), 'live clients keep their history').to.equal(false);
    await close();
  });

  it('sweeps interleaved with traffic that reorders the clients drop every expired client within a few calls, and never a live one', async () => {
    const { clock, store, limiter, close } = setup({ limit: 1, windowSeconds: 3600 });
    let seed = 42;
    const random = (n: number): number => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31; // a fixed sequence: the test never flakes
      return seed % n;
    };
    const total = SWEEP_BUDGET + 3_000;
    const shortIds = new Set<number>();
    for (let i = 0; i < total; i++) {
      if (random(3) === 0) {
        shortIds.add(i);
        await limiter.updateLimit(`c${i}`, 1, 1);
      }
      await limiter.check(`c${i}`, { timestamp: 100 });
    }
    clock.now += 3;
    const liveIds = Array.from({ length: total }, (_, i) => i).filter((i) => !shortIds.has(i));
    for (let sweeps = 0; sweeps < 4; sweeps++) {
      store.sweep();
      // Touch live clients in random order (each touch moves one to the most recently used end).
      for (let k = 0; k < 2_000; k++) {
        const id = liveIds[random(liveIds.length)] as number;
        expect(await limiter.isAllowed(`c${id}`, 100), `live client c${id} kept its history`).to.equal(false);
      }
    }
    expect(store.size).to.equal(liveIds.length);
    await close();
  });

  it('the sweep timer drops expired clients on its own, and close() stops it', async () => {
    const { clock, store, limiter, close } = setup({ limit: 1, windowSeconds: 1, sweepIntervalMs: 5 });
    await limiter.check('a', { timestamp: 100 });
    clock.now += 3;
    const deadline = Date.now() + 2_000;
    while (store.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(store.size, 'swept by the timer within 2 s').to.equal(0);
    await store.close();
    await limiter.check('b', { timestamp: 100 });
    clock.now += 1;
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(store.size, 'no sweep after close()').to.equal(1);
    await close();
  });

  it('a limiter made without a store owns its MemoryStore and closes it; a given store is left open', async () => {
    const store = new MemoryStore({ sweepIntervalMs: 0 });
    const shared = new RateLimiter({ limit: 1, windowSeconds: 10, store });
    const other = new RateLimiter({ limit: 1, windowSeconds: 10, store });
    expect(await shared.isAllowed('a', 100)).to.equal(true);
    await shared.close();
    // The store is shared: the other limiter still sees the client's window.
    expect(await other.isAllowed('a', 100)).to.equal(false);
    await other.close();
    await store.close();
  });

  it('limiters that share a store share per-client limits and counts', async () => {
    const store = new MemoryStore({ sweepIntervalMs: 0 });
    const one = new RateLimiter({ limit: 5, windowSeconds: 10, store });
    const two = new RateLimiter({ limit: 5, windowSeconds: 10, store });
    await one.updateLimit('a', 2, 10);
    expect(await two.getLimit('a')).to.deep.equal({ limit: 2, windowSeconds: 10 });
    expect(await one.isAllowed('a', 100)).to.equal(true);
    expect(await two.isAllowed('a', 100)).to.equal(true);
    expect(await one.isAllowed('a', 100)).to.equal(false);
    await one.close();
    await two.close();
    await store.close();
  });
});
