import { expect } from 'chai';
import { Redis } from 'ioredis';
import { SAFE_NODE_REDIS_OPTIONS, SAFE_REDIS_OPTIONS } from '@slidegate/core';
import { startSentinelGroup, type SentinelGroup } from '@slidegate/test-utils';
import {
  closeRig,
  expectFaultInvariants,
  limitAfterRecovery,
  makeRig,
  ready,
  sleep,
  storeDecisionAfter,
  UnhandledRejections,
  VIP_LIMIT,
  WINDOW,
  type Rig,
} from './chaos-load';

// Sentinel failover: 1 master, 1 replica, 3 sentinels on free ports; the master is SIGKILLed, the
// sentinels promote the replica, and ioredis (through the sentinels) follows the new master.

/** Redis replicates asynchronously: waits until the replica has what the master holds (vip's limit), or the failover loses it. */
async function replicated(group: SentinelGroup): Promise<void> {
  const master = new Redis({ host: group.master.host, port: group.master.port });
  try {
    expect(await master.call('WAIT', 1, 2000), 'replicas that acknowledged the limit').to.equal(1);
  } finally {
    master.disconnect();
  }
}

describe('chaos: Sentinel failover with a load running (real master, replica and 3 sentinels)', function () {
  this.timeout(60_000);
  const unhandled = new UnhandledRejections();
  let group: SentinelGroup | undefined;
  let rig: Rig | undefined;
  before(() => unhandled.install());
  after(async () => {
    unhandled.uninstall();
    await closeRig(rig);
    await group?.stop();
  });

  it('master SIGKILLed: fallback in the gap, ioredis follows the promoted replica, back on the store within 5 s', async () => {
    group = await startSentinelGroup({ replicas: 1, sentinels: 3 });
    const oldMasterPort = group.master.port;
    rig = makeRig(group.client({ ...SAFE_REDIS_OPTIONS }), 'sentinel');
    await ready(rig.client);
    await rig.limiter.updateLimit('vip', VIP_LIMIT, WINDOW);
    await replicated(group);
    rig.load.start();
    await sleep(300);
    const { promoted } = await group.killMaster();
    const recoveredAt = Date.now();
    expect(promoted.port).to.not.equal(oldMasterPort);
    expect(await storeDecisionAfter(rig, recoveredAt)).to.equal(true);
    await sleep(300);
    await rig.load.stop();
    expectFaultInvariants(rig, unhandled, recoveredAt);
    const serverInfo = await (rig.client as Redis).info('server');
    expect(Number(/tcp_port:(\d+)/.exec(serverInfo)?.[1]), 'ioredis talks to the promoted replica').to.equal(promoted.port);
    expect(await limitAfterRecovery(rig, 'vip')).to.deep.equal({ limit: VIP_LIMIT, windowSeconds: WINDOW });
  });

  it("node-redis 5 createSentinel: master SIGKILLed, fallback in the gap, the Sentinel client follows the promoted replica, back on the store within 5 s", async () => {
    await closeRig(rig);
    rig = undefined;
    await group?.stop();
    group = await startSentinelGroup({ replicas: 1, sentinels: 3 });
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- the client under test
    const { createSentinel } = require('redis') as { createSentinel(o: object): { connect(): Promise<unknown>; on(e: string, l: () => void): unknown; destroy(): void } };
    const sentinel = createSentinel({ name: group.masterName, sentinelRootNodes: group.sentinelAddresses, nodeClientOptions: SAFE_NODE_REDIS_OPTIONS });
    sentinel.on('error', () => undefined);
    await sentinel.connect();
    const nodeRig = makeRig(sentinel as unknown as Redis, 'sentinel-node-redis');
    try {
      expect(nodeRig.store.clientName).to.equal('node-redis 5 sentinel');
      await nodeRig.limiter.updateLimit('vip', VIP_LIMIT, WINDOW);
      await replicated(group);
      nodeRig.load.start();
      await sleep(300);
      await group.killMaster();
      const recoveredAt = Date.now();
      expect(await storeDecisionAfter(nodeRig, recoveredAt)).to.equal(true);
      await sleep(300);
      await nodeRig.load.stop();
      expectFaultInvariants(nodeRig, unhandled, recoveredAt);
    } finally {
      await closeRig(nodeRig, () => Promise.resolve(sentinel.destroy()));
    }
  });
});
