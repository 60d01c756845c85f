// Child-process entry point of the faults suite: a load running while a throwaway Redis is killed and restarted.
import Redis from 'ioredis';
import * as core from '@slidegate/core';
import { startThrowawayRedis } from '../lib/throwaway-redis.mjs';
import { latencySummaryUs } from '../lib/stats.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * `loops` request loops decide continuously for `phaseMs` healthy, then Redis is SIGKILLed and the loops go on
 * for `phaseMs` (outage), then Redis restarts on the same port and the loops go on until a decision comes back
 * from the store (recovery) or `recoveryCapMs` passes. Default settings of the limiter apart from failureMode.
 */
export async function outage({ phaseMs, loops, recoveryCapMs, failureMode }) {
  let server = await startThrowawayRedis();
  // The settings the README asks for: no offline queue, no re-sending after a reconnect.
  const client = new Redis(server.url, { ...core.SAFE_REDIS_OPTIONS, enableAutoPipelining: true });
  client.on('error', () => {}); // connection errors during the outage are expected; the limiter reports its own
  // The healthy phase must measure Redis, not the fallback of a client still connecting.
  if (client.status !== 'ready') await new Promise((resolve) => client.once('ready', resolve));
  const store = new core.RedisStore({ client, prefix: 'faults-bench:' });
  const limiter = new core.RateLimiter({ limit: 1_000_000_000, windowSeconds: 60, store, failureMode });
  const samples = { healthy: [], outage: [], recovering: [] };
  const sources = { healthy: {}, outage: {}, recovering: {} };
  let phase = 'healthy';
  let stop = false;
  let restartedAt = 0;
  let recoveredAt = 0;
  let unanswered = 0;
  const started = performance.now();
  async function loop(k) {
    for (let i = 0; !stop; i++) {
      const t0 = performance.now();
      const p = phase;
      try {
        const d = await limiter.check(`client-${k}-${i % 100}`);
        const t1 = performance.now();
        samples[p].push((t1 - t0) * 1e6);
        sources[p][d.source] = (sources[p][d.source] ?? 0) + 1;
        if (p === 'recovering' && d.source === 'store' && t0 >= restartedAt && recoveredAt === 0) recoveredAt = t1;
      } catch {
        unanswered++;
      }
      // Yield to timers and I/O: fallback decisions can resolve without ever leaving the microtask queue.
      await new Promise((r) => setImmediate(r));
    }
  }
  const running = Array.from({ length: loops }, (_, k) => loop(k));
  try {
    await sleep(phaseMs);
    phase = 'outage';
    await server.kill();
    await sleep(phaseMs);
    phase = 'recovering';
    server = await startThrowawayRedis({ port: server.port });
    // From the spawn of the new redis-server: its own start-up time is included (an upper bound on our part).
    restartedAt = server.spawnedAt;
    while (recoveredAt === 0 && performance.now() - restartedAt < recoveryCapMs) await sleep(10);
  } finally {
    stop = true;
    await Promise.all(running);
    await limiter.close();
    await store.close();
    client.disconnect();
    await server.kill();
  }
  const toMs = (us) => Math.round(us * 10) / 10000;
  const ms = (summary) => ({ p50_ms: toMs(summary.p50_us), p99_ms: toMs(summary.p99_us), max_ms: toMs(summary.max_us), decisions: summary.samples });
  return {
    failureMode,
    healthy: { ...ms(latencySummaryUs(samples.healthy)), sources: sources.healthy },
    outage: { ...ms(latencySummaryUs(samples.outage)), sources: sources.outage },
    recovery_ms: recoveredAt ? Math.round(recoveredAt - restartedAt) : null,
    recovered_within_cap: recoveredAt !== 0,
    unanswered,
    seconds: Math.round((performance.now() - started) / 100) / 10,
  };
}
