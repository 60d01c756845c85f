/**
 * RedisStore against MemoryStore, store call for store call: random sequences of checks (late ones,
 * leases with `extra`, lease releases, limit factors), releases, limit changes (window changes
 * included) and getLimit must give identical answers, field by field, for every algorithm. The
 * in-process engines are the reference the Lua scripts mirror. Registered by
 * redis-store.equivalence.test.ts (standalone) and redis-cluster.test.ts (Cluster).
 */
import { expect } from 'chai';
import fc from 'fast-check';
import type { Redis, Cluster } from 'ioredis';
import { MemoryStore } from '../src/stores/memory-store';
import { RedisStore } from '../src/stores/redis-store';
import { clientKeys } from '../src/stores/redis/key-encoding';
import type { Algorithm, ClientLimit, Store, StoreCheckRequest } from '../src/types';
import { deleteKeys, uniquePrefix } from './redis-helpers';

const ALGORITHMS: Algorithm[] = ['sliding-window', 'sliding-log', 'sliding-counter'];
/** Windows of 1 s are left to the contract suite: Redis TTLs run on real time, and a slow run could see one expire. */
const WINDOWS = [2, 3, 5, 10, 60, 3600, 31_536_000];
const CLIENTS = ['a', 'b{x}:c', 'c'];

type Op =
  | { kind: 'check'; client: number; advance: number; late: number; cost: number; extra: number; factor: number; release: { back: number; units: number } | null }
  | { kind: 'release'; client: number; back: number; units: number }
  | { kind: 'setLimit'; client: number; limit: number; windowSeconds: number }
  | { kind: 'getLimit'; client: number }
  | { kind: 'buckets'; bucketMs: number | null };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant('check' as const),
      client: fc.nat(CLIENTS.length - 1),
      // Ms the test clock moves: mostly small (within or across buckets), sometimes a window or more.
      advance: fc.oneof(
        fc.constantFrom(0, 0, 1, 16, 17, 34, 999, 1000, 2000, 3000),
        fc.nat(12_000),
        fc.constantFrom(59_000, 60_000, 61_000, 3_599_000, 3_600_000, 3_601_000),
      ),
      late: fc.oneof(fc.constant(0), fc.constant(0), fc.nat(8000)),
      cost: fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 6 })),
      extra: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 5 })),
      factor: fc.constantFrom(1, 1, 1, 0.5, 0.75, 1.5),
      release: fc.option(fc.record({ back: fc.nat(6000), units: fc.integer({ min: 1, max: 4 }) }), { freq: 4 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('release' as const),
      client: fc.nat(CLIENTS.length - 1),
      back: fc.nat(6000),
      units: fc.integer({ min: 1, max: 4 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('setLimit' as const),
      client: fc.nat(CLIENTS.length - 1),
      limit: fc.integer({ min: 0, max: 12 }),
      windowSeconds: fc.constantFrom(...WINDOWS),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('getLimit' as const), client: fc.nat(CLIENTS.length - 1) }) },
  // Another bucketMs from here on (a limiter with another setting on the same store): counts move to the new width.
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('buckets' as const), bucketMs: fc.constantFrom(null, 1, 7, 250, 1000) }) },
);

const scenarioArb = fc.record({
  defaults: fc.record({ limit: fc.integer({ min: 0, max: 10 }), windowSeconds: fc.constantFrom(...WINDOWS) }),
  start: fc.integer({ min: 0, max: 2_000_000_000 }).map((seconds) => seconds * 1000),
  bucketMs: fc.constantFrom(null, null, 1, 250),
  ops: fc.array(opArb, { minLength: 1, maxLength: 40 }),
});

type Scenario = typeof scenarioArb extends fc.Arbitrary<infer T> ? T : never;

/**
 * Runs one scenario on both stores and compares every answer. `clientSalt` keeps runs apart on a
 * shared server (the store's prefix does too; the salt also varies the ids' bytes).
 */
async function compare(redis: Store, algorithm: Algorithm, scenario: Scenario, salt: string): Promise<void> {
  const memory = new MemoryStore({ now: () => 0, sweepIntervalMs: 0 });
  const defaults: ClientLimit = scenario.defaults;
  let now = scenario.start;
  let bucketMs = scenario.bucketMs ?? undefined;
  const stepLog: string[] = [];
  try {
    for (const op of scenario.ops) {
      stepLog.push(JSON.stringify(op));
      if (op.kind === 'buckets') {
        bucketMs = op.bucketMs ?? undefined;
        continue;
      }
      const clientId = `${salt}${CLIENTS[op.client] as string}`;
      if (op.kind === 'check') {
        now += op.advance;
        const request: StoreCheckRequest = {
          clientId,
          timestamp: Math.max(0, now - op.late),
          cost: op.cost,
          defaults,
          algorithm,
          bucketMs,
          extra: op.extra,
          release: op.release === null ? undefined : { at: Math.max(0, now - op.release.back), units: op.release.units },
          limitFactor: op.factor,
        };
        const [fromMemory, fromRedis] = [await memory.check(request), await redis.check(request)];
        expect(fromRedis, `step ${stepLog.length}: ${stepLog.join('\n')}`).to.deep.equal(fromMemory);
      } else if (op.kind === 'release') {
        const release = { at: Math.max(0, now - op.back), units: op.units };
        await memory.release(clientId, algorithm, release, defaults);
        await redis.release(clientId, algorithm, release, defaults);
      } else if (op.kind === 'setLimit') {
        const request = { clientId, limit: { limit: op.limit, windowSeconds: op.windowSeconds }, defaults, algorithm, bucketMs };
        await memory.setLimit(request);
        await redis.setLimit(request);
      } else {
        expect(await redis.getLimit(clientId), `getLimit at step ${stepLog.length}`).to.deep.equal(await memory.getLimit(clientId));
      }
    }
  } finally {
    await memory.close();
  }
}

/** Registers the equivalence suite for a client made by `connect` (a Redis here; a Cluster in redis-cluster.test.ts). */
export function describeEquivalence(
  label: string,
  connect: () => Promise<{ client: Redis | Cluster | object; admin?: Redis | Cluster; cleanup: () => Promise<void> }>,
  numRuns: number,
): void {
  describe(`RedisStore decides exactly as MemoryStore (${label})`, function () {
    this.timeout(60_000);
    /** An ioredis connection to the same server(s), for inspecting keys: the store's own client may be any kind. */
    let client: Redis | Cluster;
    let cleanup: () => Promise<void>;
    const prefix = uniquePrefix('equivalence');
    let store: RedisStore;

    before(async () => {
      const connected = await connect();
      cleanup = connected.cleanup;
      client = connected.admin ?? (connected.client as Redis | Cluster);
      store = new RedisStore({ client: connected.client, prefix });
    });

    after(async () => {
      await store?.close();
      if (client !== undefined) await deleteKeys(client, prefix);
      await cleanup?.();
    });

    for (const algorithm of ALGORITHMS) {
      it(`'${algorithm}': identical decisions, field by field, over random sequences`, async () => {
        let run = 0;
        await fc.assert(
          fc.asyncProperty(scenarioArb, async (scenario) => {
            await compare(store, algorithm, scenario, `${algorithm}:${run++}:`);
          }),
          { numRuns },
        );
      });
    }

    it("'sliding-window': identical when records lie more than 2^32 buckets apart (1 ms buckets, a one-year window)", async () => {
      // A record every 20,000,000 s under a one-year window: the previous one is always still in the
      // window, so the string never empties, and its buckets lie far more than 2^32 apart.
      const memory = new MemoryStore({ now: () => 0, sweepIntervalMs: 0 });
      const defaults = { limit: 5, windowSeconds: 31_536_000 };
      const base = { clientId: 'far-apart', defaults, algorithm: 'sliding-window' as const, bucketMs: 1, extra: 0, limitFactor: 1 };
      for (let i = 0; i < 260; i++) {
        const t = 1_000_000 + i * 20_000_000_000;
        for (const request of [{ ...base, timestamp: t, cost: 1 }, { ...base, timestamp: t - 3, cost: 2, release: { at: t, units: 1 } }, { ...base, timestamp: t + 1, cost: 4 }]) {
          const expected = await memory.check(request);
          expect(await store.check(request), `t=${t}`).to.deep.equal(expected);
        }
      }
      await memory.close();
    });

    for (const algorithm of ['sliding-window', 'sliding-log'] as const) {
      it(`'${algorithm}': identical over a long history (chunked and paged reads, in-place appends, compaction)`, async () => {
        // Hundreds of distinct buckets (1 ms wide) inside one window: the packed string outgrows its
        // first 512-byte read and the log's retry walk spans several pages (costs up to 150). Times in ms.
        const memory = new MemoryStore({ now: () => 0, sweepIntervalMs: 0 });
        const defaults = { limit: 600, windowSeconds: 600 };
        const base = { clientId: `long-history:${algorithm}`, defaults, algorithm, bucketMs: 1, extra: 0, limitFactor: 1 };
        let t = 1_000_000_000;
        let longest = 0;
        const stateKey = algorithm === 'sliding-window' ? clientKeys(prefix, base.clientId).slidingWindow : clientKeys(prefix, base.clientId).slidingLog;
        for (let i = 0; i < 900; i++) {
          t += i % 29 === 0 ? 30_000 : (i % 2) * 333;
          const late = i % 11 === 0 ? 5000 : 0;
          const cost = i % 97 === 0 ? 150 : 1 + (i % 3);
          const release = i % 13 === 0 ? { at: t - 2000, units: 2 } : undefined;
          const request = { ...base, timestamp: t - late, cost, release };
          const expected = await memory.check(request);
          expect(await store.check(request), `request ${i}`).to.deep.equal(expected);
          longest = Math.max(longest, algorithm === 'sliding-window' ? await client.strlen(stateKey) : await client.zcard(stateKey));
        }
        // Then a full window of single units at distinct times, and a request of nearly L: its
        // retryAfter walk crosses hundreds of records (many chunks, many pages).
        for (let j = 0; j <= 700; j++) {
          t += 1000;
          const request = { ...base, timestamp: t, cost: j === 700 ? defaults.limit - 10 : 1, release: undefined };
          const expected = await memory.check(request);
          expect(await store.check(request), `fill ${j}`).to.deep.equal(expected);
          if (j === 700) expect(expected.retryAfter, 'a long walk').to.be.greaterThan(300);
        }
        await memory.close();
        // The long paths ran: a string past its first read (28 + 512 bytes), a log of several 64-entry pages.
        expect(longest).to.be.greaterThan(algorithm === 'sliding-window' ? 28 + 512 : 3 * 64);
      });
    }
  });
}

