// A worker process of test/redis-distributed.test.ts: decides many requests for shared clients
// through the BUILT @slidegate/core on a shared Redis (standalone or Cluster) and reports every
// allowed decision. Input: one JSON argument (see the test); output: one IPC message.
import { Cluster, Redis } from 'ioredis';
import { RateLimiter, RedisStore, SAFE_CLUSTER_OPTIONS, SAFE_REDIS_OPTIONS } from '@slidegate/core';
import { redisClientKind } from '@slidegate/test-utils';

const job = JSON.parse(process.argv[2]);

/** Deterministic per-worker randomness, so a failure can be replayed from the seed. */
function random(seed) {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296;
  };
}

async function main() {
  // The settings slidegate asks of a client (no offline queue: decide once connected), on standalone Redis
  // and on a Cluster. Another supported client (job.clientKind: 'node-redis 4', 'iovalkey', ...), made
  // with its safe settings.
  const other = job.clientKind === undefined ? undefined : await (job.cluster ? redisClientKind(job.clientKind).cluster(job.cluster) : redisClientKind(job.clientKind).standalone(job.url));
  const client =
    other?.client ??
    (job.cluster ? new Cluster(job.cluster, { ...SAFE_CLUSTER_OPTIONS, enableAutoPipelining: true }) : new Redis(job.url, { ...SAFE_REDIS_OPTIONS, enableAutoPipelining: true }));
  if (other === undefined) {
    client.on('error', () => undefined);
    if (client.status !== 'ready') await new Promise((resolve) => client.once('ready', resolve));
    if (job.cluster) {
      // ioredis connects to each master on its first command, and without an offline queue that command
      // fails (a fallback here): connect them all first, as an application warms up.
      const masters = client.nodes('master');
      await Promise.all(masters.filter((n) => n.status === 'wait').map((n) => n.connect().catch(() => undefined)));
      for (let i = 0; i < 250 && masters.some((n) => n.status !== 'ready'); i++) await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
  const store = new RedisStore({ client, prefix: job.prefix });
  const limiter = new RateLimiter({
    limit: job.limit,
    windowSeconds: job.windowSeconds,
    algorithm: job.algorithm,
    store,
    // Every decision must come from the store: a fallback admits nothing and is counted.
    failureMode: 'closed',
    timeoutMs: 10_000,
    // The job's timestamps run ahead of real time.
    maxClockSkewSeconds: Infinity,
  });
  const next = random(job.seed);
  const allowed = [];
  let denied = 0;
  let fallback = 0;
  // One virtual clock for every worker, running `speed` times real time from the parent's `epochMs`: it crosses
  // second and window boundaries. Never slower than real time, because Redis forgets a client after W seconds
  // of real time without a write (SPEC, Expiry): a clock that a loaded machine slows below real time, as a
  // clock counting rounds was, lets a window's units expire while the window is still open on that clock.
  const clock = () => job.t0 + Math.floor((Math.max(0, Date.now() - job.epochMs) * job.speed) / 1000);
  // Every worker starts at the epoch, connected: none loses the first windows to a slow start. The parent
  // sends the epoch once every worker said it is ready (a loaded machine can take seconds to start one).
  const epoch = new Promise((resolve) => process.once('message', (message) => resolve(message.epochMs)));
  process.send({ ready: true });
  job.epochMs = await epoch;
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, job.epochMs - Date.now())));
  for (let now = clock(); now < job.t0 + job.virtualSeconds; now = clock()) {
    const batch = [];
    for (let i = 0; i < job.concurrency; i++) {
      const clientId = job.clients[Math.floor(next() * job.clients.length)];
      // One request in eight is late, up to a window and a bit (it is then evaluated at the client's clock).
      const late = next() < 0.125 ? Math.floor(next() * (job.windowSeconds + 2)) : 0;
      const cost = 1 + Math.floor(next() * 3);
      const timestamp = Math.max(0, now - late) + next() * 0.99;
      batch.push(
        limiter.check(clientId, { timestamp, cost }).then((decision) => {
          // Leases and the denial cache are on (RedisStore's defaults): their decisions count as the store's.
          if (decision.source === 'fallback') fallback++;
          else if (decision.allowed) allowed.push([clientId, decision.timestamp, cost]);
          else denied++;
        }),
      );
    }
    await Promise.all(batch);
  }
  await limiter.close();
  await store.close();
  if (other !== undefined) await other.close();
  else await client.quit().catch(() => client.disconnect());
  process.send({ allowed, denied, fallback }, () => process.exit(0));
}

main().catch((error) => {
  process.send({ error: String(error && error.stack ? error.stack : error) }, () => process.exit(1));
});
