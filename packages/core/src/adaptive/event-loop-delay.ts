import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

/** Sampling resolution of the event-loop delay histogram, in milliseconds. */
const RESOLUTION_MS = 10;

/**
 * The default load signal: the p99 of the event-loop delay since the previous sample, in
 * milliseconds. The histogram measures the time between timer ticks, so the resolution itself is
 * subtracted: an idle loop reads about 0, a loop blocked 40 ms at a time about 40.
 */
export class EventLoopDelaySignal {
  readonly #histogram: IntervalHistogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });

  constructor() {
    this.#histogram.enable();
  }

  /** Milliseconds of p99 delay since the last read; resets the histogram. */
  read(): number {
    const p99 = this.#histogram.count === 0 ? 0 : this.#histogram.percentile(99) / 1e6;
    this.#histogram.reset();
    return Math.max(0, p99 - RESOLUTION_MS);
  }

  close(): void {
    this.#histogram.disable();
  }
}
