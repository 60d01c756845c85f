// One deterministic request trace for every limiter in the accuracy suite. Times are integer milliseconds
// from the trace's start; the base epoch is a multiple of W so fixed windows aligned to multiples of W
// (slidegate's 'sliding-counter') see the bursts exactly at their boundaries.

/** mulberry32: a small, fast, seeded PRNG (the same seed gives the same trace on every machine). */
export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Poisson arrivals at `perSecond` over [fromMs, toMs), from `random`. */
function poisson(random, perSecond, fromMs, toMs, out, client) {
  let t = fromMs;
  for (;;) {
    t += (-Math.log(1 - random()) / perSecond) * 1000;
    if (t >= toMs) return;
    out.push({ t: Math.floor(t), client });
  }
}

/** `count` requests spread evenly over [fromMs, toMs). */
function burst(count, fromMs, toMs, out, client) {
  for (let i = 0; i < count; i++) out.push({ t: Math.floor(fromMs + ((toMs - fromMs) * i) / count), client });
}

export const SCENARIOS = {
  /**
   * One client: a request at 0 (which starts the fixed windows of peers that open a window on a client's
   * first request), then L requests in the last W/12 before every multiple of W and L in the first W/12 after it.
   */
  'boundary-bursts': ({ L, W, windows }) => {
    const out = [{ t: 0, client: 'c0' }];
    const spread = (W * 1000) / 12;
    for (let k = 1; k <= windows; k++) {
      burst(L, k * W * 1000 - spread, k * W * 1000, out, 'c0');
      burst(L, k * W * 1000, k * W * 1000 + spread, out, 'c0');
    }
    return out;
  },
  /**
   * One client: L requests in the last 3 ms before every multiple of W and L in the first 3 ms after
   * it (a request at 0 first, as in boundary-bursts). 2L within 6 ms: a limiter that counts in whole
   * seconds (or whole windows) admits both bursts; an exact one admits L per W of real time.
   */
  'ms-boundary': ({ L, W, windows }) => {
    const out = [{ t: 0, client: 'c0' }];
    for (let k = 1; k <= windows; k++) {
      burst(L, k * W * 1000 - 3, k * W * 1000, out, 'c0');
      burst(L, k * W * 1000, k * W * 1000 + 3, out, 'c0');
    }
    return out;
  },
  /**
   * One client offering twice its limit, as Poisson arrivals, for `windows` windows. `rateL` (default L) sets
   * the offered rate to 2 * rateL / W, for several instances that each offer 2L.
   */
  'steady-2x': ({ L, W, windows, seed, rateL }) => {
    const out = [];
    poisson(prng(seed), (2 * (rateL ?? L)) / W, 0, windows * W * 1000, out, 'c0');
    return out;
  },
  /**
   * Many clients, each from its own seeded stream (so any subset of clients is the same traffic): a rate of
   * 0.5x, 1x, 1.5x or 3x L/W, a random start, and one burst of L at a random time.
   */
  'many-clients': ({ L, W, windows, seed, clients }) => {
    const out = [];
    const end = windows * W * 1000;
    for (let c = 0; c < clients; c++) {
      const random = prng(seed * 7919 + c);
      const client = `c${c}`;
      const rate = ([0.5, 1, 1.5, 3][Math.floor(random() * 4)] * L) / W;
      poisson(random, rate, Math.floor(random() * W * 1000), end, out, client);
      const at = Math.floor(random() * (end - 2000));
      burst(L, at, at + 2000, out, client);
    }
    return out;
  },
};

/** The trace of a scenario, sorted by time (stable: same-millisecond requests keep their generation order). */
export function makeTrace(scenario, params) {
  const events = SCENARIOS[scenario](params);
  return events.map((e, i) => ({ ...e, i })).sort((a, b) => a.t - b.t || a.i - b.i);
}

/** Base epoch of every trace: a multiple of 60, 3600 and 86400 seconds. */
export const BASE_EPOCH_SECONDS = 1_699_920_000;
