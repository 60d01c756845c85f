// Measurement loops. Every loop is bounded in time and count. `fn(i)` receives the call's index so a
// caller can spread calls over distinct clients without building keys inside the timed loop.

const now = () => process.hrtime.bigint();
const msSince = (start) => Number(now() - start) / 1e6;

/**
 * Sequential awaits: one decision after another, as a single request's path sees it. This is the
 * headline throughput (it is the latency-bound rate and the one peers usually publish).
 */
export async function sequentialOps(fn, { durationMs, chunk = 1000, maxOps = 50_000_000 }) {
  let ops = 0;
  const start = now();
  while (msSince(start) < durationMs && ops < maxOps) {
    for (let i = 0; i < chunk; i++) await fn(ops + i);
    ops += chunk;
  }
  return { ops_per_s: Math.round(ops / (msSince(start) / 1000)), ops };
}

/** Batches of `batch` concurrent calls awaited together: the rate when many requests are in flight at once. */
export async function batchedOps(fn, { durationMs, batch = 100, maxOps = 50_000_000 }) {
  let ops = 0;
  const start = now();
  const promises = new Array(batch);
  while (msSince(start) < durationMs && ops < maxOps) {
    for (let i = 0; i < batch; i++) promises[i] = fn(ops + i);
    await Promise.all(promises);
    ops += batch;
  }
  return { ops_per_s: Math.round(ops / (msSince(start) / 1000)), ops };
}

/** Latency of single awaited calls, each timed with process.hrtime.bigint(); returns raw samples in ns. */
export async function latencySamples(fn, { samples, offset = 0 }) {
  const out = new Float64Array(samples);
  for (let i = 0; i < samples; i++) {
    const t0 = now();
    await fn(offset + i);
    out[i] = Number(now() - t0);
  }
  return out;
}

/**
 * `concurrency` independent loops, each awaiting one call after another, for `durationMs`: the shape of
 * many requests in flight against a remote store. Every call is timed (queueing included).
 * The clock is read on the loops themselves and every loop yields to the event loop every `yieldEvery` calls:
 * a limiter that answers without I/O (a lease, a fallback) would otherwise keep the loops in the microtask
 * queue, starving timers (a stop timer, a circuit breaker's probe) and running far past `durationMs`.
 */
export async function concurrentOps(fn, { concurrency, durationMs, maxOps = 20_000_000, yieldEvery = 64 }) {
  const latencies = [];
  let ops = 0;
  let stop = false;
  const start = now();
  async function worker() {
    for (let n = 1; !stop && ops < maxOps; n++) {
      const i = ops++;
      const t0 = now();
      await fn(i);
      const t1 = now();
      latencies.push(Number(t1 - t0));
      if (Number(t1 - start) / 1e6 >= durationMs) stop = true;
      if (n % yieldEvery === 0) await new Promise((resolve) => setImmediate(resolve));
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { ops_per_s: Math.round(latencies.length / (msSince(start) / 1000)), ops: latencies.length, latencies };
}
