// Child-process entry points of the accuracy suite. Each replays one trace through one kind of limiter and
// returns the metrics (the trace is rebuilt from its seed in the child, so nothing large crosses the IPC).
import { createRequire } from 'node:module';
import * as core from '@slidegate/core';
import { RateLimiterMemory, RateLimiterRedis } from 'rate-limiter-flexible';
import { MemoryStore as ErlMemoryStore } from 'express-rate-limit';
import { RedisStore as RateLimitRedisStore } from 'rate-limit-redis';
import { MemoryStore as HonoMemoryStore } from 'hono-rate-limiter';
import { ThrottlerStorageService } from '@nestjs/throttler';
import { BASE_EPOCH_SECONDS, makeTrace } from '../lib/trace.mjs';
import { installFakeDate } from '../lib/fake-date.mjs';
import { accuracyMetrics } from '../lib/accuracy-metrics.mjs';
import { connect, deleteUnder, uniquePrefix } from '../lib/redis.mjs';
import { patientStoreOptions } from '../lib/available.mjs';

const require = createRequire(import.meta.url);
const FastifyLocalStore = require('@fastify/rate-limit/store/LocalStore');
const BASE_MS = BASE_EPOCH_SECONDS * 1000;

/** In-process subjects: decide(event) resolves to allowed or not. Peers read the (fake) wall clock. */
const MEMORY_SUBJECTS = {
  "slidegate 'sliding-window'": (p, clock) => slidegateMemory('sliding-window', p, clock),
  "slidegate 'sliding-window', bucketMs 1": (p, clock) => slidegateMemory('sliding-window', p, clock, 1),
  "slidegate 'sliding-log'": (p, clock) => slidegateMemory('sliding-log', p, clock),
  "slidegate 'sliding-counter'": (p, clock) => slidegateMemory('sliding-counter', p, clock),
  'express-rate-limit MemoryStore': ({ L, W }) => {
    const store = new ErlMemoryStore();
    store.init({ windowMs: W * 1000 });
    return { decide: async (e) => (await store.increment(e.client)).totalHits <= L, close: () => store.shutdown() };
  },
  'rate-limiter-flexible RateLimiterMemory': ({ L, W }) => {
    const limiter = new RateLimiterMemory({ points: L, duration: W });
    return { decide: (e) => limiter.consume(e.client).then(() => true, () => false), close: () => {} };
  },
  '@fastify/rate-limit LocalStore': ({ L, W }) => {
    // The plugin's default store and cache size; the plugin limits when current > max.
    const store = new FastifyLocalStore(false, false, 5000);
    const decide = (e) =>
      new Promise((resolve, reject) => store.incr(e.client, (error, res) => (error ? reject(error) : resolve(res.current <= L)), W * 1000, L));
    return { decide, close: () => {} };
  },
  'hono-rate-limiter MemoryStore': ({ L, W }) => {
    const store = new HonoMemoryStore();
    store.init({ windowMs: W * 1000 });
    // The middleware limits when totalHits > limit.
    return { decide: async (e) => (await store.increment(e.client)).totalHits <= L, close: () => store.shutdown() };
  },
  '@nestjs/throttler ThrottlerStorageService': ({ L, W }) => {
    const storage = new ThrottlerStorageService();
    // As ThrottlerGuard calls it with one throttler of ttl W and its default blockDuration (the ttl); it limits when isBlocked.
    return { decide: async (e) => !(await storage.increment(e.client, W * 1000, L, W * 1000, 'default')).isBlocked, close: () => storage.onApplicationShutdown() };
  },
};

function slidegateMemory(algorithm, { L, W }, clock, bucketMs) {
  const now = () => clock.now() / 1000;
  const store = new core.MemoryStore({ now, sweepIntervalMs: 0 });
  const limiter = new core.RateLimiter({ limit: L, windowSeconds: W, algorithm, store, now, ...(bucketMs === undefined ? {} : { bucketMs }) });
  return {
    decide: (e) => limiter.check(e.client, { timestamp: (BASE_MS + e.t) / 1000 }).then((d) => d.allowed),
    close: async () => {
      await limiter.close();
      await store.close();
    },
  };
}

export const MEMORY_SUBJECT_NAMES = Object.keys(MEMORY_SUBJECTS);

/** Replays the trace in order, setting the (fake) clock to each request's time first. */
export async function replayMemory({ subject, scenario, params }) {
  const events = makeTrace(scenario, params);
  const clock = installFakeDate(BASE_MS);
  try {
    const s = MEMORY_SUBJECTS[subject](params, clock);
    const admitted = new Uint8Array(events.length);
    for (let i = 0; i < events.length; i++) {
      clock.set(BASE_MS + events[i].t);
      admitted[i] = (await s.decide(events[i])) ? 1 : 0;
    }
    await s.close();
    return { subject, scenario, time: 'trace timestamps (fake clock)', ...accuracyMetrics({ events, admitted, L: params.L, W: params.W }) };
  } finally {
    clock.restore();
  }
}

/**
 * slidegate on RedisStore with the trace's own timestamps (no waiting): `instances` limiters, each with its own
 * connection, take the requests in turn. `lease`: RedisStore's defaults (local quota leases and the denial cache
 * on); otherwise both off, every decision the store's own.
 */
export async function replaySlidegateRedis({ scenario, params, algorithm = 'sliding-window', instances = 1, lease = false, parallel = 64, clientLimit }) {
  const events = firstClients(makeTrace(scenario, params), clientLimit);
  const prefix = uniquePrefix('accuracy');
  const clients = [];
  const stores = [];
  const limiters = [];
  try {
    for (let k = 0; k < instances; k++) {
      const client = connect({ autoPipelining: true, safe: true });
      await client.connect();
      clients.push(client);
      const store = new core.RedisStore({ client, prefix });
      stores.push(store);
      limiters.push(new core.RateLimiter({ limit: params.L, windowSeconds: params.W, algorithm, store, ...patientStoreOptions(core), ...(lease ? {} : { lease: false, denialCache: false }) }));
    }
    const admitted = new Uint8Array(events.length);
    const sources = {};
    // Clients are independent, so each client's requests go in order on one chain and up to `parallel` chains
    // run at once: the same decisions as one sequential replay, in a fraction of the round trips' time.
    const chains = new Map();
    events.forEach((e, i) => {
      if (!chains.has(e.client)) chains.set(e.client, []);
      chains.get(e.client).push(i);
    });
    const queue = [...chains.values()];
    async function runChains() {
      for (let chain = queue.shift(); chain !== undefined; chain = queue.shift()) {
        for (const i of chain) {
          const d = await limiters[i % instances].check(events[i].client, { timestamp: (BASE_MS + events[i].t) / 1000 });
          admitted[i] = d.allowed ? 1 : 0;
          sources[d.source] = (sources[d.source] ?? 0) + 1;
        }
      }
    }
    await Promise.all(Array.from({ length: Math.min(parallel, queue.length) }, runChains));
    // A limiter closes only a store it made; these were passed in, so they are closed here.
    for (const limiter of limiters) await limiter.close();
    for (const store of stores) await store.close();
    const subject = `slidegate RedisStore '${algorithm}'${lease ? ' + leases' : ''}${instances > 1 ? `, ${instances} instances` : ''}`;
    // A fallback decision is not the shared store's: say so beside the figures rather than mix them in silently.
    const note = sources.fallback ? `${sources.fallback} of ${events.length} decisions by the fallback` : '';
    return { subject, scenario, time: 'trace timestamps', note, sources, ...accuracyMetrics({ events, admitted, L: params.L, W: params.W }) };
  } finally {
    if (clients[0]) await deleteUnder(clients[0], prefix);
    for (const client of clients) client.disconnect();
  }
}

/** The requests of clients c0..c(limit - 1) only: the same traffic for them, since each client has its own stream. */
function firstClients(events, limit) {
  if (!limit) return events;
  const keep = new Set(Array.from({ length: limit }, (_, c) => `c${c}`));
  return events.filter((e) => keep.has(e.client));
}

/** Peers that let Redis's own clock expire their windows, so they can only be replayed in real time. */
const REALTIME_SUBJECTS = {
  'rate-limiter-flexible RateLimiterRedis': ({ L }, client, prefix) => {
    const limiter = new RateLimiterRedis({ storeClient: client, keyPrefix: prefix.slice(0, -1), points: L, duration: 1 });
    return (e) => limiter.consume(e.client).then(() => true, () => false);
  },
  'express-rate-limit + rate-limit-redis': ({ L }, client, prefix) => {
    const store = new RateLimitRedisStore({ sendCommand: (command, ...args) => client.call(command, ...args), prefix });
    store.init({ windowMs: 1000 });
    return async (e) => (await store.increment(e.client)).totalHits <= L;
  },
};

export const REALTIME_SUBJECT_NAMES = Object.keys(REALTIME_SUBJECTS);

/**
 * Real time, compressed: one window of W trace-seconds lasts 1 real second (the peers' windows are 1 s), and
 * every peer receives each request at its scheduled moment. The time a request was actually sent, mapped back
 * to trace time, is what the metrics use, so timer jitter is measured rather than hidden.
 */
export async function replayRealtime({ scenario, params, clientLimit }) {
  const events = firstClients(makeTrace(scenario, params), clientLimit);
  const realMsPerTraceMs = 1 / params.W;
  const prefix = uniquePrefix('accuracy-rt');
  const client = connect();
  await client.connect();
  try {
    const subjects = Object.entries(REALTIME_SUBJECTS).map(([name, make], k) => ({ name, decide: make(params, client, `${prefix}${k}:`) }));
    const admitted = subjects.map(() => new Uint8Array(events.length));
    const sentAt = subjects.map(() => new Float64Array(events.length));
    const pending = [];
    const start = performance.now() + 50;
    for (let i = 0; i < events.length; i++) {
      const due = start + events[i].t * realMsPerTraceMs;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
      subjects.forEach((s, k) => {
        sentAt[k][i] = (performance.now() - start) / realMsPerTraceMs;
        pending.push(s.decide(events[i]).then((ok) => (admitted[k][i] = ok ? 1 : 0)));
      });
    }
    await Promise.all(pending);
    return subjects.map((s, k) => ({
      subject: s.name,
      scenario,
      time: 'real time, 1 window = 1 s',
      ...accuracyMetrics({ events, admitted: admitted[k], L: params.L, W: params.W, tMs: Array.from(sentAt[k]) }),
    }));
  } finally {
    await deleteUnder(client, prefix);
    client.disconnect();
  }
}
