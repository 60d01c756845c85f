// Server CPU time a request, beside req/s. With the server and autocannon pinned to a core each, req/s
// measures the server only while the server's core is the one that is full; the busy shares of both say
// which one was, and CPU time a request is the server's cost whichever it was.
import { askChild } from './ask-child.mjs';

/** In a bench server: answers the bench's 'cpu' message with { cpuMicros, userMicros }: CPU time so far, all and user. */
export function answerCpuProbe() {
  process.on('message', (message) => {
    if (message !== 'cpu') return;
    const { user, system } = process.cpuUsage();
    process.send({ cpuMicros: user + system, userMicros: user });
  });
}

/** In the bench: { cpuMicros, userMicros } a server started with answerCpuProbe() has used; null if it does not answer. */
export function askCpu(child) {
  return askChild(child, 'cpu', 'cpuMicros');
}

/**
 * What measured load cost: server CPU a completed request, and the share of the load's wall time the server
 * and this process (the load generator) were on a CPU. `serverMicros` (null where the server did not answer
 * askCpu) and `ownMicros` are CPU time over the load, `wallMicros` its wall time.
 */
export function cpuFigures({ serverMicros, ownMicros, wallMicros, requests }) {
  return {
    server_cpu_us: serverMicros === null || requests <= 0 ? null : Math.round((serverMicros / requests) * 100) / 100,
    server_busy_pct: serverMicros === null ? null : Math.round((serverMicros / wallMicros) * 100),
    loadgen_busy_pct: Math.round((ownMicros / wallMicros) * 100),
  };
}
