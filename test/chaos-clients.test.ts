/**
 * The chaos cases of test/chaos-standalone.test.ts that depend on the client (how it reports a dead
 * or frozen server, how it reconnects, what it does with commands in flight), run against every
 * supported client other than ioredis 5 (which that file covers), on throwaway servers: SIGKILL
 * then restart, frozen past the timeout then resumed, refused from the start. And node-redis 5's
 * createSentinel through a failover. A load runs throughout; the SPEC's Faults invariants are
 * checked the same way (expectFaultInvariants).
 */
import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { freePort, REDIS_CLIENT_KINDS, startRedis, startSentinelGroup, type RedisServer, type SentinelGroup } from '@slidegate/test-utils';
import { SAFE_NODE_REDIS_OPTIONS } from '@slidegate/core';
import {
  allowedUnitsByClient,
  CLIENTS,
  expectFaultInvariants,
  LIMIT,
  limitAfterRecovery,
  makeRig,
  recordedUnits,
  sleep,
  storeDecisionAfter,
  UnhandledRejections,
  VIP_LIMIT,
  WINDOW,
  type Rig,
} from './chaos-load';

const ONLY = process.env.SLIDEGATE_REDIS_CLIENT;
const KINDS = REDIS_CLIENT_KINDS.filter((k) => k.name !== 'ioredis 5' && (ONLY === undefined || k.name === ONLY));

async function closeRig(rig: Rig | undefined, closeClient: (() => Promise<void>) | undefined): Promise<void> {
  if (rig === undefined) return;
  await rig.load.stop();
  await rig.limiter.close();
  await rig.store.close();
  await closeClient?.();
}

describe('chaos on every other client: killed, frozen, refused (real redis-server, load throughout)', function () {
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

  for (const kind of KINDS) {
    describe(kind.name, () => {
      it('SIGKILL then restart: fallback within the local share, back on Redis within 5 s, what was admitted stays counted', async () => {
        server = await startRedis({ appendOnly: true });
        const connected = await kind.standalone(server.url);
        closeClient = connected.close;
        rig = makeRig(connected.client as Redis, `kill-${kind.name}`);
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
        const storeAllowed = allowedUnitsByClient(rig.load.records, (r) => r.decision.source === 'store');
        for (const clientId of ['a', 'b', 'c']) {
          expect(await recordedUnits(rig.store, clientId, LIMIT), `units recorded for ${clientId}`).to.be.at.least(storeAllowed.get(clientId) ?? 0);
        }
      });

      it('frozen (SIGSTOP) past the timeout, then resumed: deadline kept, nothing counted twice', async () => {
        server = await startRedis();
        const connected = await kind.standalone(server.url);
        closeClient = connected.close;
        rig = makeRig(connected.client as Redis, `freeze-${kind.name}`);
        await rig.limiter.updateLimit('vip', VIP_LIMIT, WINDOW);
        rig.load.start();
        await sleep(300);
        await server.kill('SIGSTOP');
        await sleep(1500);
        await server.kill('SIGCONT');
        const recoveredAt = Date.now();
        expect(await storeDecisionAfter(rig, recoveredAt)).to.equal(true);
        await sleep(200);
        await rig.load.stop();
        await sleep(200); // late answers of timed-out checks arrive
        expectFaultInvariants(rig, unhandled, recoveredAt);
        // Every unit Redis holds is a store decision that allowed it, or a check that timed out and
        // ran late (its caller got a fallback answer). Nothing ran twice.
        const storeAllowed = allowedUnitsByClient(rig.load.records, (r) => r.decision.source === 'store');
        let recorded = 0;
        let allowed = 0;
        for (const clientId of CLIENTS) {
          recorded += await recordedUnits(rig.store, clientId, clientId === 'vip' ? VIP_LIMIT : LIMIT);
          allowed += storeAllowed.get(clientId) ?? 0;
        }
        expect(recorded).to.equal(allowed + rig.resilient.late.allowedUnits);
      });

      it('connection refused from the start: decides in fallback, joins Redis when it appears', async () => {
        const port = await freePort();
        const connected = await kind.standalone(`redis://127.0.0.1:${port}`, false);
        closeClient = connected.close;
        rig = makeRig(connected.client as Redis, `refused-${kind.name}`);
        rig.load.start();
        await sleep(800);
        expect(rig.load.count((r) => r.decision.source === 'store')).to.equal(0);
        server = await startRedis({ port });
        const recoveredAt = Date.now();
        expect(await storeDecisionAfter(rig, recoveredAt)).to.equal(true);
        await rig.limiter.updateLimit('vip', VIP_LIMIT, WINDOW);
        await sleep(300);
        await rig.load.stop();
        expectFaultInvariants(rig, unhandled, recoveredAt, LIMIT);
      });
    });
  }

  describe('node-redis 5 createSentinel', () => {
    let group: SentinelGroup | undefined;
    after(async () => {
      await group?.stop();
    });

    it('master SIGKILLed: fallback in the gap, the Sentinel client follows the promoted replica, back on the store within 5 s', async function () {
      this.timeout(60_000);
      group = await startSentinelGroup({ replicas: 1, sentinels: 3 });
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- the client under test
      const { createSentinel } = require('redis') as { createSentinel(o: object): { connect(): Promise<unknown>; on(e: string, l: () => void): unknown; destroy(): void } };
      const sentinel = createSentinel({ name: group.masterName, sentinelRootNodes: group.sentinelAddresses, nodeClientOptions: SAFE_NODE_REDIS_OPTIONS });
      sentinel.on('error', () => undefined);
      await sentinel.connect();
      closeClient = () => Promise.resolve(sentinel.destroy());
      rig = makeRig(sentinel as unknown as Redis, 'sentinel-node-redis');
      expect(rig.store.clientName).to.equal('node-redis 5 sentinel');
      await rig.limiter.updateLimit('vip', VIP_LIMIT, WINDOW);
      rig.load.start();
      await sleep(300);
      await group.killMaster();
      const recoveredAt = Date.now();
      expect(await storeDecisionAfter(rig, recoveredAt)).to.equal(true);
      await sleep(300);
      await rig.load.stop();
      expectFaultInvariants(rig, unhandled, recoveredAt);
    });
  });
});
