// Node 20's `process.nextTick` runs at one of two speeds for the life of a process: about 30 ns a call, or
// about 200 ns. The slow one is TurboFan code whose property stores for the tick object literal are runtime
// calls: the literal's id field went from small integer to double (`node --trace-generalization` prints
// `s->d` at task_queues:126) after nextTick had collected feedback, which left those stores megamorphic.
// Whether a process gets it depends on what it ran while starting and warming up: under `--no-lazy-feedback-allocation`
// every process does, a bare script included; Node 22 did not show it. A Fastify request makes several
// nextTick calls, so the slow path costs a Fastify server 10-25% of its req/s, limiter or none. The HTTP
// benches ask each server, after its measured run, how long a call takes.

import { askChild } from './ask-child.mjs';

/** The median nanoseconds of one `process.nextTick` call over 30 batches of 1000, the queue drained between batches. */
export async function nextTickNanoseconds() {
  const noop = () => {};
  const perCall = [];
  for (let batch = 0; batch < 30; batch++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < 1000; i++) process.nextTick(noop);
    perCall.push(Number(process.hrtime.bigint() - start) / 1000);
    await new Promise((resolve) => setImmediate(resolve));
  }
  perCall.sort((a, b) => a - b);
  return Math.round(perCall[15]);
}

/** In a bench server: answers the bench's 'next-tick' message with { nextTickNs }. */
export function answerNextTickProbe() {
  process.on('message', async (message) => {
    if (message === 'next-tick') process.send({ nextTickNs: await nextTickNanoseconds() });
  });
}

/** In the bench: asks a server started with answerNextTickProbe() for its ns per nextTick call; null if it does not answer. */
export function askNextTick(child, timeoutMs = 10_000) {
  return askChild(child, 'next-tick', 'nextTickNs', timeoutMs).then((answer) => answer?.nextTickNs ?? null);
}

/**
 * Slow path: more than three times the fastest call seen in the same bench run (30 ns against 200 here; a
 * nextTick not yet optimised, in a server that served nothing, measured 85).
 */
export function onSlowPath(nanoseconds, fastestInRun) {
  return typeof nanoseconds === 'number' && typeof fastestInRun === 'number' && nanoseconds > 3 * fastestInRun;
}
