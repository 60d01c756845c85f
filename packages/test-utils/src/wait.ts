/** Resolves after `ms` milliseconds. The timer keeps the process alive: an awaited wait must not be cut short. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Options of {@link waitUntil}. */
export interface WaitOptions {
  /** Give up after this many milliseconds. */
  timeoutMs: number;
  /**
   * Pause between two attempts.
   * @default 50
   */
  intervalMs?: number;
  /** What is awaited, for the error message ("cluster_state:ok on every node"). */
  what: string;
  /** Extra text for the error message (a log tail), computed only on failure. */
  describeFailure?: () => string;
}

/**
 * Calls `probe` until it returns a value other than `undefined`/`false`, then returns it.
 * A throwing probe counts as "not yet"; its last error is named if the wait times out.
 */
export async function waitUntil<T>(probe: () => Promise<T | undefined | false>, options: WaitOptions): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  const interval = options.intervalMs ?? 50;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) break;
    await sleep(Math.min(interval, Math.max(0, deadline - Date.now())));
  }
  const last = lastError === undefined ? '' : ` (last error: ${lastError instanceof Error ? lastError.message : JSON.stringify(lastError)})`;
  const extra = options.describeFailure ? `\n${options.describeFailure()}` : '';
  throw new Error(`test-utils: timed out after ${options.timeoutMs} ms waiting for ${options.what}${last}${extra}`);
}
