/**
 * The SPEC's distribution invariant, across processes: 4 Node processes (test/workers/redis-decider.mjs,
 * on the BUILT @slidegate/core) share clients on one Redis (standalone, then a 3-master Cluster) and
 * decide many concurrent requests each, with timestamps crossing second and window boundaries and
 * some late ones. From every allowed decision (client, effective time, cost): no window (s - W, s]
 * of any client ever held more than its L, and the total admitted is substantial.
 */
import { fork } from 'node:child_process';
import path from 'node:path';
import { expect } from 'chai';
import { Redis, type Cluster } from 'ioredis';
import { RateLimiter, RedisStore, SAFE_REDIS_OPTIONS } from '@slidegate/core';
import { REDIS_CLIENT_KINDS, sharedRedis, startCluster, type RedisCluster, type SharedRedis } from '@slidegate/test-utils';
import { deleteKeys, uniquePrefix } from '../packages/core/test/redis-helpers';

const WORKER = path.join(__dirname, 'workers', 'redis-decider.mjs');
const WORKERS = 4;
const T0 = 1_800_000_000;
const DEFAULTS = { limit: 20, windowSeconds: 5 };
/** A client with its own limit, set before the workers start. */
const OWN = { id: 'own {limit}', limit: 7, windowSeconds: 3 };
const CLIENTS = ['hot', 'warm:1', 'emoji 😀', OWN.id];

type Allowed = [string, number, number];
interface WorkerResult {
  allowed: Allowed[];
  denied: number;
  fallback: number;
  error?: string;
}

/** Runs one decider; `ready` is called with a function that sends it the shared epoch once it is connected. */
function runWorker(job: Record<string, unknown>, ready: (start: (epochMs: number) => void) => void): Promise<WorkerResult> {
  return new Promise((resolve, reject) => {
    const child = fork(WORKER, [JSON.stringify(job)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let result: WorkerResult | undefined;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('worker took longer than 90 s'));
    }, 90_000);
    child.on('message', (message: WorkerResult | { ready: true }) => {
      if ('ready' in message) ready((epochMs) => child.send({ epochMs }));
      else result = message;
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (result?.error !== undefined) reject(new Error(`worker failed: ${result.error}`));
      else if (result === undefined) reject(new Error(`worker exited with code ${String(code)} and no result`));
      else resolve(result);
    });
  });
}

/**
 * The largest total cost of allowed requests in any window (s - W, s] of one client, in real time at
 * ms resolution (decisions carry seconds with ms precision; compared as whole ms, so no float
 * subtraction moves a request in or out of a window).
 */
function heaviestWindow(records: Allowed[], windowSeconds: number): number {
  const ms = (r: Allowed): number => Math.round(r[1] * 1000);
  const sorted = [...records].sort((a, b) => a[1] - b[1]);
  let heaviest = 0;
  let sum = 0;
  let start = 0;
  for (let end = 0; end < sorted.length; end++) {
    const s = ms(sorted[end] as Allowed);
    sum += (sorted[end] as Allowed)[2];
    while (ms(sorted[start] as Allowed) <= s - windowSeconds * 1000) sum -= (sorted[start++] as Allowed)[2];
    heaviest = Math.max(heaviest, sum);
  }
  return heaviest;
}

async function checkInvariant(
  connection: { url?: string; cluster?: ReadonlyArray<{ host: string; port: number }>; clientKind?: string },
  client: Redis | Cluster,
  algorithm: string,
  seconds = 40,
): Promise<void> {
  const prefix = uniquePrefix(`distributed-${algorithm}`);
  const setup = new RedisStore({ client, prefix });
  const admin = new RateLimiter({ ...DEFAULTS, store: setup, timeoutMs: 10_000 });
  await admin.updateLimit(OWN.id, OWN.limit, OWN.windowSeconds);
  // `seconds` virtual seconds (40: 8 default windows, 13 of the own one) at 2.5 times real time, from one epoch for
  // all workers. The epoch leaves the workers time to start and connect.
  // The epoch is set once every worker is connected, and leaves each time to get its message.
  const clock = { virtualSeconds: seconds, speed: 2.5 };
  const starts: Array<(epochMs: number) => void> = [];
  const onReady = (start: (epochMs: number) => void): void => {
    starts.push(start);
    if (starts.length < WORKERS) return;
    const epochMs = Date.now() + 300;
    for (const send of starts) send(epochMs);
  };
  try {
    const results = await Promise.all(
      Array.from({ length: WORKERS }, (_, w) =>
        runWorker({ ...connection, prefix, clients: CLIENTS, ...DEFAULTS, algorithm, seed: 1000 + w * 7919, ...clock, concurrency: 16, t0: T0 }, onReady),
      ),
    );
    const all = results.flatMap((r) => r.allowed);
    expect(results.map((r) => r.fallback), 'no decision fell back').to.deep.equal([0, 0, 0, 0]);
    expect(results.reduce((n, r) => n + r.denied, 0), 'the limits were reached').to.be.greaterThan(1000);
    let admitted = 0;
    for (const clientId of CLIENTS) {
      const { limit, windowSeconds } = clientId === OWN.id ? OWN : DEFAULTS;
      const records = all.filter((r) => r[0] === clientId);
      const heaviest = heaviestWindow(records, windowSeconds);
      expect(heaviest, `${clientId}: most units in any window of ${windowSeconds} s`).to.be.at.most(limit);
      // Not vacuous: some window was filled to the limit, and units were admitted in most windows.
      expect(heaviest, `${clientId} reached its limit`).to.be.at.least(limit - 2);
      const units = records.reduce((n, r) => n + r[2], 0);
      expect(units, `${clientId} admitted units`).to.be.at.least(limit * Math.floor(seconds / windowSeconds) * 0.5);
      admitted += units;
    }
    expect(admitted).to.be.greaterThan(200);
  } finally {
    await admin.close();
    await setup.close();
    await deleteKeys(client, prefix);
  }
}

describe('distributed invariant: 4 processes on one RedisStore', function () {
  this.timeout(120_000);

  describe('standalone Redis', () => {
    let shared: SharedRedis;
    let client: Redis;
    before(async () => {
      shared = await sharedRedis();
      client = new Redis(shared.url, { ...SAFE_REDIS_OPTIONS, lazyConnect: true });
      await client.connect();
    });
    after(async () => {
      client?.disconnect();
      await shared?.stop();
    });

    it('updateLimit in this process is seen by another process within 1 second', async () => {
      const prefix = uniquePrefix('watch');
      const child = fork(path.join(__dirname, 'workers', 'redis-limit-watcher.mjs'), [JSON.stringify({ url: shared.url, prefix })], {
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      const messages: Record<string, unknown>[] = [];
      child.on('message', (m) => messages.push(m as Record<string, unknown>));
      const waitFor = async (predicate: (m: Record<string, unknown>) => boolean, ms: number, what: string): Promise<Record<string, unknown>> => {
        const started = Date.now();
        while (Date.now() - started < ms) {
          const found = messages.find(predicate);
          if (found !== undefined) return found;
          await new Promise((r) => setTimeout(r, 5));
        }
        throw new Error(`no ${what} from the watcher within ${ms} ms; got ${JSON.stringify(messages)}`);
      };
      const store = new RedisStore({ client, prefix });
      const limiter = new RateLimiter({ ...DEFAULTS, store, timeoutMs: 5_000 });
      try {
        expect(await waitFor((m) => 'ready' in m, 10_000, 'ready')).to.deep.equal({ ready: true });
        const started = Date.now();
        await limiter.updateLimit('watched {id}', 11, 42);
        const seen = await waitFor((m) => m.changed === 'watched {id}', 1_000, 'change');
        expect(Date.now() - started).to.be.below(1_000);
        expect(seen.limit).to.deep.equal({ limit: 11, windowSeconds: 42 });
      } finally {
        const exited = new Promise((r) => child.once('exit', r));
        child.send('close');
        const kill = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(kill);
        await limiter.close();
        await store.close();
        await deleteKeys(client, prefix);
      }
    });

    for (const algorithm of ['sliding-window', 'sliding-log']) {
      it(`'${algorithm}': no window of any client ever holds more than L`, async () => {
        await checkInvariant({ url: shared.url }, client, algorithm);
      });
    }

    // The same 4 processes on each other supported client ('sliding-window': the client only moves
    // the script calls, which the algorithm does not change).
    for (const kind of REDIS_CLIENT_KINDS.filter((k) => k.name !== 'ioredis 5')) {
      it(`${kind.name}: 'sliding-window': no window of any client ever holds more than L`, async () => {
        // Half the virtual time (20 s, 4 default windows) to keep the suite's time down.
        await checkInvariant({ url: shared.url, clientKind: kind.name }, client, 'sliding-window', 20);
      });
    }
  });

  describe('Redis Cluster (3 masters)', () => {
    let cluster: RedisCluster;
    let client: Cluster;
    before(async function () {
      this.timeout(60_000);
      cluster = await startCluster();
      // ioredis' defaults: with SAFE_CLUSTER_OPTIONS the first command after 'ready' failed once in
      // 'Connection is closed' (the chaos tests cover the safe settings on a Cluster).
      client = cluster.client();
    });
    after(async () => {
      await cluster?.stop();
    });

    it("'sliding-window': no window of any client ever holds more than L", async () => {
      await checkInvariant({ cluster: cluster.startupNodes }, client, 'sliding-window');
    });

    for (const name of ['node-redis 5', 'node-redis 4']) {
      it(`${name} Cluster: 'sliding-window': no window of any client ever holds more than L`, async () => {
        await checkInvariant({ cluster: cluster.startupNodes, clientKind: name }, client, 'sliding-window', 20);
      });
    }
  });
});
