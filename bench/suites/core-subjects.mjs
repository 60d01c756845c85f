// The in-process subjects of the core suite, each as { decide(key), close() }. Built inside the child process
// that measures them. Every subject answers through a Promise, as a limiter in a request path does.
import { RateLimiter } from '@slidegate/core';
import { RateLimiterMemory } from 'rate-limiter-flexible';
import { MemoryStore as ErlMemoryStore } from 'express-rate-limit';

export const WINDOW_SECONDS = 60;

export const SUBJECTS = {
  'slidegate sliding-window': (limit) => slidegate('sliding-window', limit),
  'slidegate sliding-log': (limit) => slidegate('sliding-log', limit),
  'slidegate sliding-counter': (limit) => slidegate('sliding-counter', limit),
  'rate-limiter-flexible RateLimiterMemory': rlflexMemory,
  'express-rate-limit MemoryStore': erlMemory,
  'async Map get/set (ceiling)': asyncMap,
};

function slidegate(algorithm, limit) {
  const limiter = new RateLimiter({ limit, windowSeconds: WINDOW_SECONDS, algorithm });
  return { decide: (key) => limiter.check(key), close: () => limiter.close(), holds: limiter };
}

function rlflexMemory(limit) {
  const limiter = new RateLimiterMemory({ points: limit, duration: WINDOW_SECONDS });
  // consume() rejects when over the limit; a denial is an answer here, not an error.
  const denied = (res) => res;
  return { decide: (key) => limiter.consume(key).catch(denied), close: () => {}, holds: limiter };
}

function erlMemory(limit) {
  const store = new ErlMemoryStore();
  store.init({ windowMs: WINDOW_SECONDS * 1000 });
  // express-rate-limit's middleware allows while totalHits <= limit; the comparison is part of the decision.
  const decide = async (key) => (await store.increment(key)).totalHits <= limit;
  return { decide, close: () => store.shutdown(), holds: store };
}

function asyncMap(limit) {
  const counts = new Map();
  // The least an asynchronous in-process decision can cost: one Map get, one Map set, one resolved Promise.
  async function decide(key) {
    const used = counts.get(key) ?? 0;
    if (used >= limit) return false;
    counts.set(key, used + 1);
    return true;
  }
  return { decide, close: () => {}, holds: counts };
}
