import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';

/**
 * Every child process and temporary directory this package created and has not cleaned up yet.
 * On exit (normal, or SIGINT/SIGTERM) the leftovers are killed and removed, so no redis-server outlives
 * the test run even when a test forgets `stop()` or the run is interrupted.
 */
const liveChildren = new Map<number, ChildProcess>();
const tempDirs = new Set<string>();
let hooksInstalled = false;

/** Tracks `child` until it exits. */
export function trackChild(child: ChildProcess): void {
  if (child.pid === undefined) return;
  installExitHooks();
  const pid = child.pid;
  liveChildren.set(pid, child);
  child.once('exit', () => liveChildren.delete(pid));
}

/** Tracks a temporary directory until {@link releaseTempDir}. */
export function trackTempDir(dir: string): void {
  installExitHooks();
  tempDirs.add(dir);
}

/** Removes a tracked temporary directory now. */
export function releaseTempDir(dir: string): void {
  tempDirs.delete(dir);
  rmSync(dir, { recursive: true, force: true });
}

/** Pids of the children still running (for tests and diagnostics). */
export function livePids(): number[] {
  return [...liveChildren.keys()];
}

/** Synchronous on purpose: 'exit' listeners cannot wait. */
function killEverything(): void {
  for (const pid of liveChildren.keys()) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  liveChildren.clear();
  for (const dir of tempDirs) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // A directory we cannot remove must not hide the test run's own exit code.
    }
  }
  tempDirs.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  killEverything();
  // Listening to a signal disables Node's default "exit"; restore it unless someone else handles the signal.
  process.removeListener(signal, onSignal);
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', killEverything);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}
