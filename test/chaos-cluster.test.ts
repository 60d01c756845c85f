import { expect } from 'chai';
import { Redis } from 'ioredis';
import { RedisStore, SAFE_CLUSTER_OPTIONS } from '@slidegate/core';
import { startCluster, type RedisCluster } from '@slidegate/test-utils';
import {
  allowedUnitsByClient,
  closeRig,
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

// Redis Cluster (3 masters, 1 replica each, free ports): a master is SIGKILLed and its replica
// promoted while a load runs; then a slot is resharded under load (ASK/TRYAGAIN while it migrates,
// MOVED afterwards), which ioredis Cluster must follow without counting anything twice.

/** Admin commands on one node, outside the limiter (plain client, closed after each use). */
async function onNode<T>(port: number, fn: (node: Redis) => Promise<T>): Promise<T> {
  const node = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 1 });
  node.on('error', () => undefined);
  try {
    await node.connect();
    return await fn(node);
  } finally {
    node.disconnect();
  }
}

/** Port of the master serving `slot`, from CLUSTER SLOTS on `viaPort`. */
async function masterOfSlot(viaPort: number, slot: number): Promise<number> {
  const ranges = (await onNode(viaPort, (n) => n.call('CLUSTER', 'SLOTS'))) as Array<[number, number, [string, number, string]]>;
  const range = ranges.find(([from, to]) => slot >= from && slot <= to);
  if (range === undefined) throw new Error(`no master serves slot ${slot}`);
  return range[2][1];
}

/** The slot of a client's keys: all of them share the hash tag `{clientId}` (ids here need no encoding). */
function slotOf(viaPort: number, clientId: string): Promise<number> {
  return onNode(viaPort, async (n) => Number(await n.call('CLUSTER', 'KEYSLOT', `{${clientId}}`)));
}

/** Moves `slot` and its keys from its master to the master on `toPort`, the way redis-cli --cluster reshard does. */
async function migrateSlot(masterPorts: number[], slot: number, fromPort: number, toPort: number): Promise<number> {
  const id = (port: number) => onNode(port, async (n) => String(await n.call('CLUSTER', 'MYID')));
  const fromId = await id(fromPort);
  const toId = await id(toPort);
  await onNode(toPort, (n) => n.call('CLUSTER', 'SETSLOT', slot, 'IMPORTING', fromId));
  await onNode(fromPort, (n) => n.call('CLUSTER', 'SETSLOT', slot, 'MIGRATING', toId));
  let moved = 0;
  for (let round = 0; round < 100; round++) {
    const keys = (await onNode(fromPort, (n) => n.call('CLUSTER', 'GETKEYSINSLOT', slot, 100))) as string[];
    if (keys.length === 0) break;
    await onNode(fromPort, (n) => n.call('MIGRATE', '127.0.0.1', toPort, '', 0, 5000, 'KEYS', ...keys));
    moved += keys.length;
    await sleep(50); // let checks hit the half-migrated slot (ASK / TRYAGAIN)
  }
  for (const port of [toPort, fromPort, ...masterPorts.filter((p) => p !== toPort && p !== fromPort)]) {
    await onNode(port, (n) => n.call('CLUSTER', 'SETSLOT', slot, 'NODE', toId));
  }
  return moved;
}

function checkOf(clientId: string): Parameters<RedisStore['check']>[0] {
  return { clientId, timestamp: Date.now(), cost: 1, defaults: { limit: LIMIT, windowSeconds: WINDOW }, algorithm: 'sliding-window', bucketMs: undefined, extra: 0, limitFactor: 1 };
}

describe('chaos: Redis Cluster master killed and replica promoted, then a slot resharded, under load', function () {
  this.timeout(90_000);
  const unhandled = new UnhandledRejections();
  let cluster: RedisCluster | undefined;
  let rig: Rig | undefined;
  before(async () => {
    unhandled.install();
    cluster = await startCluster({ masters: 3, replicasPerMaster: 1 });
  });
  after(async () => {
    unhandled.uninstall();
    await closeRig(rig);
    await cluster?.stop();
  });
  afterEach(async () => {
    await closeRig(rig);
    rig = undefined;
  });

  it('the master of a client is SIGKILLed: fallback in the gap, back on the store within 5 s of the promotion', async () => {
    const c = cluster as RedisCluster;
    rig = makeRig(c.client({ ...SAFE_CLUSTER_OPTIONS }), 'cluster-kill');
    await ready(rig.client);
    await rig.limiter.updateLimit('vip', VIP_LIMIT, WINDOW);
    const anyPort = (c.startupNodes[0] as { port: number }).port;
    const vipMaster = await masterOfSlot(anyPort, await slotOf(anyPort, 'vip'));
    await onNode(vipMaster, (n) => n.call('WAIT', 1, 2000)); // the replica has vip's limit before the master dies
    const masters = await c.masters();
    const index = masters.findIndex((m) => m.port === vipMaster);
    rig.load.start();
    await sleep(300);
    const { promoted } = await c.killMaster(index);
    const recoveredAt = Date.now();
    expect(await storeDecisionAfter(rig, recoveredAt)).to.equal(true);
    // Every client (vip's slot included) decides on the store again.
    const vipBack = await (async () => {
      for (let i = 0; i < 250; i++) {
        if (rig.load.records.some((r) => r.at >= recoveredAt && r.clientId === 'vip' && r.decision.source === 'store')) return true;
        await sleep(20);
      }
      return false;
    })();
    expect(vipBack, 'vip (on the promoted replica) back on the store within 5 s').to.equal(true);
    await sleep(300);
    await rig.load.stop();
    expectFaultInvariants(rig, unhandled, recoveredAt);
    expect(await masterOfSlot(promoted.port, await slotOf(promoted.port, 'vip'))).to.equal(promoted.port);
    expect(await limitAfterRecovery(rig, 'vip')).to.deep.equal({ limit: VIP_LIMIT, windowSeconds: WINDOW });
  });

  it('a slot migrates under load: ioredis follows ASK/TRYAGAIN/MOVED, no crash, nothing counted twice', async () => {
    const c = cluster as RedisCluster;
    rig = makeRig(c.client({ ...SAFE_CLUSTER_OPTIONS }), 'cluster-reshard');
    await ready(rig.client);
    const masterPorts = (await c.masters()).map((m) => m.port);
    const via = masterPorts[0] as number;
    const slot = await slotOf(via, 'a');
    const from = await masterOfSlot(via, slot);
    const to = masterPorts.find((p) => p !== from) as number;
    // A second client whose slot map goes stale: after the migration only MOVED can lead it to `to`.
    const stale = c.client({ ...SAFE_CLUSTER_OPTIONS, slotsRefreshInterval: 60_000 });
    stale.on('error', () => undefined);
    await ready(stale);
    const staleStore = new RedisStore({ client: stale, prefix: rig.store.prefix });
    expect((await staleStore.check(checkOf('a'))).source).to.equal('store');
    rig.load.start();
    await sleep(300);
    const moved = await migrateSlot(masterPorts, slot, from, to);
    const migratedAt = Date.now();
    expect(moved, 'keys of client a migrated').to.be.greaterThan(0);
    const aOnStore = () => rig?.load.records.some((r) => r.clientId === 'a' && r.at >= migratedAt && r.decision.source === 'store') === true;
    for (let i = 0; i < 250 && !aOnStore(); i++) await sleep(20);
    await sleep(500);
    await rig.load.stop();
    await sleep(300); // late answers (TRYAGAIN retried after the timeout) arrive
    expect(unhandled.reasons).to.deep.equal([]);
    expect(rig.load.rejections).to.deep.equal([]);
    expect(rig.load.maxLatencyMs, rig.load.describeSlowest()).to.be.lessThan(250);
    expect(await masterOfSlot(via, slot)).to.equal(to);
    const viaMoved = await staleStore.check(checkOf('a')); // followed MOVED to the new master
    expect(viaMoved.source).to.equal('store');
    await staleStore.close();
    stale.disconnect();
    const after = rig.load.records.filter((r) => r.clientId === 'a' && r.at >= migratedAt);
    const firstBack = after.find((r) => r.decision.source === 'store');
    expect(firstBack, 'client a decides on its new master').to.not.equal(undefined);
    expect((firstBack as { at: number }).at - migratedAt, 'ms until client a is back on the store').to.be.at.most(5000);
    const tail = after.slice(-20);
    const why = `last sources of a: ${tail.map((r) => r.decision.source).join(',')}; breaker: ${rig.breakerEvents.join(',')}; errors: ${[...new Set(rig.errors.map((e) => e.message.slice(0, 120)))].join(' | ')}`;
    expect(tail.every((r) => r.decision.source === 'store'), `and stays there (${why})`).to.equal(true);
    if (process.env.CHAOS_VERBOSE) {
      console.log(`      [chaos] reshard: a back after ${(firstBack as { at: number }).at - migratedAt} ms; errors=${[...new Set(rig.errors.map((e) => e.message.slice(0, 140)))].join(' | ')} breaker=${rig.breakerEvents.join(',')}`);
    }
    // Every unit on the new master is a store decision that allowed it or a check that ran late.
    const storeAllowed = allowedUnitsByClient(rig.load.records, (r) => r.decision.source === 'store');
    const recorded = await recordedUnits(rig.store, 'a', LIMIT);
    const lateUpperBound = rig.resilient.late.allowedUnits;
    // (+2: the two direct checks through the stale client.)
    expect(recorded).to.be.at.least((storeAllowed.get('a') ?? 0) + 2);
    expect(recorded).to.be.at.most((storeAllowed.get('a') ?? 0) + 2 + lateUpperBound);
    if (process.env.CHAOS_VERBOSE) console.log(`      [chaos] reshard: ${rig.load.describeSlowest()} fallback=${rig.load.count((r) => r.decision.source === 'fallback')} late=${JSON.stringify(rig.resilient.late)}`);
  });
});
