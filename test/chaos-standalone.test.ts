import { expect } from 'chai';
import { mostInAnyWindow } from '../packages/core/test/support/model';
import { Redis } from 'ioredis';
import { ErrorCodes, RateLimiter, RedisStore, SAFE_REDIS_OPTIONS, StoreError } from '@slidegate/core';
import { freePort, REDIS_CLIENT_KINDS, startRedis, type RedisServer } from '@slidegate/test-utils';
import {
  allowedUnitsByClient,
  closeRig,
  CLIENTS,
  expectFaultInvariants,
  limitAfterRecovery,
  LIMIT,
  makeRig,
  ready,
  recordedUnits,
  sleep,
  storeDecisionAfter,
  UnhandledRejections,
  VIP_LIMIT,
  WINDOW,
  type Rig,
} from './chaos-load';

// Chaos against a real standalone redis-server on a free port (never 6379): killed, frozen, absent.
// A load runs throughout; each scenario checks the SPEC's Faults section (see expectFaultInvariants).
// Every supported client runs the scenarios (how a client reports a dead or frozen server, reconnects
// and treats commands in flight is the client's own); ioredis 5 also runs the lease and queue checks.

interface ClientMaker {
  name: string;
  /** A client of 127.0.0.1:port, connected first unless `waitReady` is false (no server there yet). */
  make(port: number, waitReady: boolean): Promise<{ client: Redis; close?: () => Promise<void> }>;
}

const IOREDIS_5: ClientMaker = {
  name: 'ioredis 5',
  make: async (port, waitReady) => {
    const client = new Redis({ host: '127.0.0.1', port, ...SAFE_REDIS_OPTIONS });
    client.on('error', () => undefined);
    if (waitReady) await ready(client);
    return { client };
  },
};
const ONLY = process.env.SLIDEGATE_REDIS_CLIENT;
const MAKERS: ClientMaker[] = [
  IOREDIS_5,
  ...REDIS_CLIENT_KINDS.filter((k) => k.name !== IOREDIS_5.name).map((kind) => ({
    name: kind.name,
    make: async (port: number, waitReady: boolean) => {
      const { client, close } = await kind.standalone(`redis://127.0.0.1:${port}`, waitReady);
      // Typed as ioredis for the rig; the store detects the real client.
      return { client: client as Redis, close };
    },
  })),
].filter((m) => ONLY === undefined || m.name === ONLY);

for (const maker of MAKERS) {
  describe(`chaos: standalone Redis killed, frozen, or absent (real redis-server, load throughout; ${maker.name})`, function () {
    this.timeout(30_000);
    const unhandled = new UnhandledRejections();
    let rig: Rig | undefined;
    let closeClient: (() => Promise<void>) | undefined;
    let server: RedisServer | undefined;
    before(() => unhandled.install());
    after(() => unhandled.uninstall());
    afterEach(async () => {
      await closeRig(rig, closeClient);
      await server?.stop();
      rig = undefined;
      closeClient = undefined;
      server = undefined;
    });

    const rigFor = async (port: number, label: string, extra = {}, waitReady = true): Promise<Rig> => {
      const made = await maker.make(port, waitReady);
      closeClient = made.close;
      return makeRig(made.client, `${label}-${maker.name.replace(/\W/g, '')}`, extra);
    };
    const isIoredis5 = maker === IOREDIS_5;

    it('SIGKILL then restart on the same port: fallback within the local share, back on Redis within 5 s, limits intact', async () => {
      server = await startRedis({ appendOnly: true });
      rig = await rigFor(server.port, 'kill');
      await rig.limiter.updateLimit('vip', VIP_LIMIT, WINDOW);
      rig.load.start();
      await sleep(300);
      await server.kill('SIGKILL');
      await sleep(1000);
      expect(rig.breakerEvents[0], 'the breaker opened').to.match(/^open:/);
      await server.restart();
      const recoveredAt = Date.now();
      expect(await storeDecisionAfter(rig, recoveredAt)).to.equal(true);
      await sleep(200);
      await rig.load.stop();
      expectFaultInvariants(rig, unhandled, recoveredAt);
      expect(await limitAfterRecovery(rig, 'vip')).to.deep.equal({ limit: VIP_LIMIT, windowSeconds: WINDOW });
      expect(rig.errors.some((e) => e.code === ErrorCodes.STORE_CONNECTION), 'a connection error, coded as such').to.equal(true);
      expect(rig.breakerEvents).to.include('close');
      // AOF (fsync always) kept every recorded unit; a check in flight at the kill may have been
      // recorded without its answer reaching us, so the store holds at least what it allowed.
      const storeAllowed = allowedUnitsByClient(rig.load.records, (r) => r.decision.source === 'store');
      for (const clientId of ['a', 'b', 'c']) {
        expect(await recordedUnits(rig.store, clientId, LIMIT), `units recorded for ${clientId}`).to.be.at.least(storeAllowed.get(clientId) ?? 0);
      }
    });

    // Leases sit above the store: one client shows it.
    if (isIoredis5) {
      it('with local leases on: SIGKILL then restart keeps the same guarantees (leases never add to the fallback share)', async () => {
        server = await startRedis({ appendOnly: true });
        rig = await rigFor(server.port, 'kill-lease', { lease: true });
        await rig.limiter.updateLimit('vip', VIP_LIMIT, WINDOW);
        rig.load.start();
        await sleep(300);
        expect(rig.load.count((r) => r.decision.source === 'lease'), 'leases in use before the kill').to.be.greaterThan(0);
        await server.kill('SIGKILL');
        await sleep(1000);
        await server.restart();
        const recoveredAt = Date.now();
        expect(await storeDecisionAfter(rig, recoveredAt)).to.equal(true);
        await sleep(300);
        await rig.load.stop();
        expectFaultInvariants(rig, unhandled, recoveredAt);
        expect(await limitAfterRecovery(rig, 'vip')).to.deep.equal({ limit: VIP_LIMIT, windowSeconds: WINDOW });
      });
    }

    it('frozen (SIGSTOP) past the timeout, then resumed: deadline kept, queue bounded, nothing counted twice', async () => {
      server = await startRedis();
      rig = await rigFor(server.port, 'freeze');
      await rig.limiter.updateLimit('vip', VIP_LIMIT, WINDOW);
      rig.load.start();
      await sleep(300);
      await server.kill('SIGSTOP');
      let maxQueue = 0;
      const frozenUntil = Date.now() + 1500;
      while (Date.now() < frozenUntil) {
        // ioredis' queue of commands written and awaiting a reply: bounded by the breaker.
        if (isIoredis5) maxQueue = Math.max(maxQueue, (rig.client as unknown as { commandQueue: { length: number } }).commandQueue.length);
        await sleep(20);
      }
      await server.kill('SIGCONT');
      const recoveredAt = Date.now();
      expect(await storeDecisionAfter(rig, recoveredAt)).to.equal(true);
      await sleep(200);
      await rig.load.stop();
      await sleep(200); // late answers of timed-out checks arrive
      expectFaultInvariants(rig, unhandled, recoveredAt);
      expect(rig.errors.some((e) => e.code === ErrorCodes.STORE_TIMEOUT)).to.equal(true);
      // (Read on ioredis' own queue; other clients keep theirs private.)
      // Without the breaker, 1.5 s of this load would leave ~1200 checks queued on the frozen socket.
      if (isIoredis5) expect(maxQueue, 'commands queued on the frozen connection').to.be.below(100);
      // Exact accounting: every unit Redis holds is a store decision that allowed it, or a check that
      // timed out and ran late (its caller got a fallback answer). Nothing ran twice.
      const storeAllowed = allowedUnitsByClient(rig.load.records, (r) => r.decision.source === 'store');
      let recorded = 0;
      let allowed = 0;
      for (const clientId of CLIENTS) {
        recorded += await recordedUnits(rig.store, clientId, clientId === 'vip' ? VIP_LIMIT : LIMIT);
        allowed += storeAllowed.get(clientId) ?? 0;
      }
      expect(rig.resilient.late.decisions, 'checks answered after their timeout').to.be.greaterThan(0);
      expect(recorded).to.equal(allowed + rig.resilient.late.allowedUnits);
    });

    it('connection refused from the start: starts, decides in fallback, joins Redis when it appears', async () => {
      const port = await freePort();
      rig = await rigFor(port, 'refused', {}, false);
      const refused = await rig.limiter.updateLimit('vip', VIP_LIMIT, WINDOW).catch((e: unknown) => e);
      expect(refused, 'a limit that cannot be stored is refused, not pretended').to.be.instanceOf(StoreError);
      rig.load.start();
      await sleep(800);
      expect(rig.load.count((r) => r.decision.source === 'store')).to.equal(0);
      server = await startRedis({ port });
      const recoveredAt = Date.now();
      expect(await storeDecisionAfter(rig, recoveredAt)).to.equal(true);
      const vipLimitSetAt = Date.now();
      await rig.limiter.updateLimit('vip', VIP_LIMIT, WINDOW);
      await sleep(300);
      await rig.load.stop();
      // vip had no limit of its own during the outage (it could not be stored): the defaults applied.
      expectFaultInvariants(rig, unhandled, recoveredAt, LIMIT, vipLimitSetAt);
      expect(await limitAfterRecovery(rig, 'vip')).to.deep.equal({ limit: VIP_LIMIT, windowSeconds: WINDOW });
    });

    // The transition ClusterStore's workers-before-the-primary case exercises, on Redis: pent-up demand
    // fills the window in one burst the moment the store appears, leases and the denial cache on.
    if (isIoredis5) {
      it('connection refused from the start, 4 instances with leases and the denial cache (the defaults): no window of one hot client holds more than L once Redis appears', async () => {
        const port = await freePort();
        const limit = 200;
        const instances = await Promise.all(
          Array.from({ length: 4 }, async (_, i) => {
            const { client } = await maker.make(port, false);
            const store = new RedisStore({ client, prefix: `chaos:refused-leases:${process.pid}:` });
            // A fallback admits nothing ('closed'): every admitted unit was decided by Redis or its leases.
            const limiter = new RateLimiter({ limit, windowSeconds: 1, store, failureMode: 'closed', timeoutMs: 250 });
            return { i, client, store, limiter };
          }),
        );
        const allowed: number[] = [];
        let firstAllowedAt = Infinity;
        let fallback = 0;
        let lease = 0;
        let stopAt = Infinity;
        const run = async (limiter: RateLimiter): Promise<void> => {
          while (Date.now() < stopAt) {
            const decisions = await Promise.all(Array.from({ length: 16 }, () => limiter.check('hot').then((d) => [d, Date.now()] as const)));
            for (const [d, answeredAt] of decisions) {
              if (d.source === 'fallback') fallback++;
              else if (d.allowed) {
                allowed.push(Math.round(d.timestamp * 1000));
                firstAllowedAt = Math.min(firstAllowedAt, answeredAt);
              }
              if (d.source === 'lease') lease++;
            }
            await new Promise((resolve) => setImmediate(resolve));
          }
        };
        const loads = instances.map((x) => run(x.limiter));
        try {
          await sleep(500);
          const startingAt = Date.now();
          server = await startRedis({ port });
          stopAt = Date.now() + 3000;
          await Promise.all(loads);
          expect(fallback, 'decisions before Redis was there').to.be.greaterThan(0);
          expect(firstAllowedAt, 'nothing admitted before Redis was there').to.be.at.least(startingAt);
          expect(lease, 'decisions from leases').to.be.greaterThan(0);
          expect(heaviestWindow(allowed, 1000), 'the most admitted in any 1 s').to.equal(limit);
        } finally {
          stopAt = 0;
          await Promise.allSettled(loads);
          for (const x of instances) {
            await x.limiter.close();
            await x.store.close();
            x.client.disconnect();
          }
        }
      });
    }
  });
}

/** The most units admitted in any window (t - W, t] (ms) of the given admitted times, one unit each. */
const heaviestWindow = (times: number[], windowMs: number): number => mostInAnyWindow(times.map((at) => ({ at, cost: 1 })), windowMs);
