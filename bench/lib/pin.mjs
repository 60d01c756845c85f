// Pins a process to cores with taskset, every thread (-a). On a 2-core machine a server and its load
// generator left alone swap cores and now and then share one, which moved a round's req/s by up to 30%
// against the round before; each on a core of its own, they do not.
import { execFileSync } from 'node:child_process';
import { availableParallelism } from 'node:os';

/** Read once, at load: once this process is pinned, availableParallelism() answers 1. */
export const CORES = availableParallelism();

/** Pins `pid` to `cores` ('0', '1', '0-1'); false where taskset is missing or there is one core. */
export function pinToCores(pid, cores) {
  if (CORES < 2) return false;
  try {
    execFileSync('taskset', ['-a', '-p', '-c', cores, String(pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
