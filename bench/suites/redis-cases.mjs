// Child-process entry points of the redis suite: one row per process, each on its own connection and prefix.
import { RateLimiter } from '@slidegate/core';
import * as core from '@slidegate/core';
import { RateLimiterRedis } from 'rate-limiter-flexible';
import Redis from 'ioredis';
import { commandMicros, commandsProcessed, connect, deleteUnder, memoryUnder, REDIS_URL as REDIS_URL_FOR_KINDS, uniquePrefix } from '../lib/redis.mjs';
import { startThrowawayRedis } from '../lib/throwaway-redis.mjs';
import { concurrentOps, sequentialOps } from '../lib/measure.mjs';
import { latencySummaryUs } from '../lib/stats.mjs';
import { patientStoreOptions } from '../lib/available.mjs';
import { redisClientKind } from '@slidegate/test-utils';

/** The raw EVALSHA of the trivial script through a client's own API (each client's fastest way to call it). */
async function rawEvalsha(kind, client, key) {
  if (kind.startsWith('node-redis')) {
    const sha = await client.scriptLoad(TRIVIAL_SCRIPT);
    return () => client.evalSha(sha, { keys: [key] });
  }
  const sha = await client.script('LOAD', TRIVIAL_SCRIPT);
  return () => client.evalsha(sha, 1, key);
}

const WINDOW_SECONDS = 60;
const TRIVIAL_SCRIPT = 'return 1';

function keysFor(prefix, count) {
  return JSON.parse(JSON.stringify(Array.from({ length: count }, (_, i) => `client-${i}`)));
}

/** Builds the subject of one row: { decide(i), close() } over a client made for this row. */
async function makeSubject(params, client, prefix) {
  const { subject, algorithm, clients, autoPipelining } = params;
  const keys = clients > 1 ? keysFor(prefix, clients) : ['hot-client'];
  const n = keys.length;
  if (subject === 'raw-evalsha') {
    const sha = await client.script('LOAD', TRIVIAL_SCRIPT);
    return { decide: (i) => client.evalsha(sha, 1, `${prefix}${keys[i % n]}`), close: async () => {} };
  }
  if (subject === 'rlflex') {
    const limiter = new RateLimiterRedis({ storeClient: client, keyPrefix: prefix.slice(0, -1), points: 1_000_000_000, duration: WINDOW_SECONDS });
    return { decide: (i) => limiter.consume(keys[i % n]).catch((res) => res), close: async () => {} };
  }
  if (subject === 'slidegate') {
    const store = new core.RedisStore({ client, prefix, ...(params.maxBatch ? { maxBatch: params.maxBatch } : {}) });
    const limiter = new RateLimiter({ limit: 1_000_000_000, windowSeconds: WINDOW_SECONDS, algorithm, store, ...(params.patient ? patientStoreOptions(core) : {}), lease: params.lease === true });
    if (params.fullWindow) {
      // One request in each second of the window before now, oldest first (the client's clock only moves forward).
      const now = Date.now() / 1000;
      for (let back = WINDOW_SECONDS - 1; back >= 1; back--) await limiter.check(keys[0], { timestamp: now - back });
    }
    // Counted so a row decided by the fallback (a store call over its timeout) cannot pass for a Redis figure.
    const sources = {};
    const count = (d) => {
      sources[d.source] = (sources[d.source] ?? 0) + 1;
    };
    return { decide: (i) => limiter.check(keys[i % n]).then(count), sources, close: async () => { await limiter.close(); await store.close?.(); } };
  }
  throw new Error(`bench: unknown redis subject ${subject} (autoPipelining ${autoPipelining})`);
}

/**
 * The per-client rows: the same hot-client measurement through one supported client (ioredis 6,
 * iovalkey, node-redis 4 and 5...), slidegate beside that client's own raw EVALSHA, each made with
 * the client's safe settings (test-utils' REDIS_CLIENT_KINDS).
 */
export async function clientSpeed(params) {
  const kind = redisClientKind(params.clientKind);
  const { client, close } = await kind.standalone(REDIS_URL_FOR_KINDS);
  const admin = connect({ safe: true });
  await admin.connect();
  const prefix = uniquePrefix(`redis-client-${params.subject}`);
  try {
    let decide;
    let sources;
    let closeSubject = async () => {};
    if (params.subject === 'raw-evalsha') {
      decide = await rawEvalsha(params.clientKind, client, `${prefix}hot-client`);
    } else {
      const store = new core.RedisStore({ client, prefix });
      // Leases off and a patient timeout: the row measures the client's translation layer and one script call a
      // decision, never the fallback.
      const limiter = new RateLimiter({ limit: 1_000_000_000, windowSeconds: WINDOW_SECONDS, algorithm: 'sliding-window', store, lease: false, ...patientStoreOptions(core) });
      sources = {};
      decide = () =>
        limiter.check('hot-client').then((d) => {
          sources[d.source] = (sources[d.source] ?? 0) + 1;
        });
      closeSubject = async () => {
        await limiter.close();
        await store.close();
      };
    }
    await concurrentOps(decide, { concurrency: params.concurrency, durationMs: Math.min(300, params.durationMs) });
    const { ops_per_s, latencies } = await concurrentOps(decide, { concurrency: params.concurrency, durationMs: params.durationMs });
    await closeSubject();
    return { ...params, ops_per_s, ...latencySummaryUs(latencies), ...(sources ? sourceShares(sources) : {}) };
  } finally {
    await deleteUnder(admin, prefix);
    admin.disconnect();
    await close();
  }
}

/** Decisions/s and latency at one concurrency (1: sequential awaits; more: that many loops in flight). */
export async function speed(params) {
  const client = connect({ autoPipelining: params.autoPipelining, safe: true });
  await client.connect();
  const prefix = uniquePrefix(`redis-${params.subject}`);
  try {
    const s = await makeSubject(params, client, prefix);
    await concurrentOps(s.decide, { concurrency: params.concurrency, durationMs: Math.min(300, params.durationMs) });
    const { ops_per_s, latencies } =
      params.concurrency === 1
        ? await timedSequential(s.decide, params.durationMs)
        : await concurrentOps(s.decide, { concurrency: params.concurrency, durationMs: params.durationMs });
    await s.close();
    const sourced = s.sources ? sourceShares(s.sources) : {};
    return { ...params, ops_per_s, ...latencySummaryUs(latencies), ...sourced };
  } finally {
    await deleteUnder(client, prefix);
    client.disconnect();
  }
}

/** Share of decisions the shared store made (directly or through a lease), and the count by source. */
function sourceShares(sources) {
  const total = Object.values(sources).reduce((a, b) => a + b, 0);
  const shared = (sources.store ?? 0) + (sources.lease ?? 0);
  return { store_share: total ? Math.round((shared / total) * 1000) / 1000 : null, sources };
}

async function timedSequential(fn, durationMs) {
  const latencies = [];
  const timed = async (i) => {
    const t0 = process.hrtime.bigint();
    await fn(i);
    latencies.push(Number(process.hrtime.bigint() - t0));
  };
  const { ops_per_s } = await sequentialOps(timed, { durationMs, chunk: 100 });
  return { ops_per_s, latencies };
}

/**
 * Bytes per client in Redis: `clients` clients make `requests` requests each, one second apart (so the exact
 * window holds that many per-second counts), then MEMORY USAGE over every key under the row's prefix.
 */
export async function bytes({ subject, algorithm, clients, requests }) {
  const client = connect({ autoPipelining: true, safe: true });
  await client.connect();
  const prefix = uniquePrefix(`redis-mem-${subject}`);
  try {
    const keys = keysFor(prefix, clients);
    const t0 = Math.floor(Date.now() / 1000);
    let decide;
    let notFromStore = 0;
    let close = async () => {};
    if (subject === 'rlflex') {
      const limiter = new RateLimiterRedis({ storeClient: client, keyPrefix: prefix.slice(0, -1), points: 1_000_000_000, duration: WINDOW_SECONDS });
      decide = (key) => limiter.consume(key);
    } else {
      const store = new core.RedisStore({ client, prefix });
      // A patient store timeout: a decision sent to the fallback on a busy machine would write nothing to Redis.
      const limiter = new RateLimiter({ limit: 1_000_000_000, windowSeconds: WINDOW_SECONDS, algorithm, store, lease: false, ...patientStoreOptions(core) });
      decide = (key, r) =>
        limiter.check(key, { timestamp: t0 + r }).then((d) => {
          if (d.source !== 'store') notFromStore++;
        });
      close = async () => { await limiter.close(); await store.close?.(); };
    }
    for (let r = 0; r < requests; r++) {
      for (let i = 0; i < clients; i += 256) await Promise.all(keys.slice(i, i + 256).map((key) => decide(key, r)));
    }
    const { bytes: total, keys: keyCount } = await memoryUnder(client, prefix);
    await close();
    return { subject, algorithm, clients, requests, keys_per_client: Math.round((keyCount / clients) * 100) / 100, bytes_per_client: notFromStore === 0 ? Math.round(total / clients) : `unreliable: ${notFromStore} decisions not from the store` };
  } finally {
    await deleteUnder(client, prefix);
    client.disconnect();
  }
}

/**
 * Redis's own cost per decision, on a redis-server of its own (so the counters are this subject's alone):
 * microseconds of command execution (INFO commandstats, scripts and the calls inside them) and commands executed
 * (INFO stats total_commands_processed), per decision. This is what bounds decisions/s when Redis saturates.
 */
export async function redisCost(params) {
  const server = await startThrowawayRedis();
  const client = connect({ url: server.url, autoPipelining: true, safe: true });
  await client.connect();
  const admin = new Redis(server.url);
  try {
    // Patient: a cold start's first calls (script loading) must not send the row to the fallback.
    const s = await makeSubject({ ...params, autoPipelining: true, patient: true }, client, 'redis-cost:');
    await concurrentOps(s.decide, { concurrency: params.concurrency, durationMs: 10_000, maxOps: 1000 });
    const usec0 = await commandMicros(admin);
    const commands0 = await commandsProcessed(admin);
    const { ops } = await concurrentOps(s.decide, { concurrency: params.concurrency, durationMs: 30_000, maxOps: params.decisions });
    await new Promise((r) => setTimeout(r, 100));
    const commands1 = await commandsProcessed(admin);
    const usec1 = await commandMicros(admin);
    await s.close();
    // The INFO calls between the readings are ours (one commandstats, one stats), not the subject's.
    return {
      ...params,
      redis_us_per_decision: Math.round(((usec1 - usec0) / ops) * 100) / 100,
      commands_per_decision: Math.round(((commands1 - commands0 - 2) / ops) * 100) / 100,
      decisions: ops,
      ...(s.sources ? sourceShares(s.sources) : {}),
    };
  } finally {
    client.disconnect();
    admin.disconnect();
    await server.kill();
  }
}
