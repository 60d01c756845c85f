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
 * What one measured run cost: server CPU a completed request, and the share of the run's wall time the server
 * and this process (the load generator) were on a CPU. `serverBefore`/`serverAfter` are askCpu's answers;
 * nulls where a side was not measured.
 */
export function cpuFigures({ serverBefore, serverAfter, ownBefore, ownAfter, wallMicros, requests }) {
  const server = serverBefore === null || serverAfter === null ? null : serverAfter.cpuMicros - serverBefore.cpuMicros;
  const own = ownAfter.user + ownAfter.system - (ownBefore.user + ownBefore.system);
  return {
    server_cpu_us: server === null || requests <= 0 ? null : Math.round((server / requests) * 100) / 100,
    server_busy_pct: server === null ? null : Math.round((server / wallMicros) * 100),
    loadgen_busy_pct: Math.round((own / wallMicros) * 100),
  };
}
