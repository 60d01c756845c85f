import { randomUUID } from 'node:crypto';
import type { LimiterEvents } from '../metrics/limiter-events';
import type { Store } from '../types';
import type { ParsedAdaptiveOptions } from './adaptive-options';
import { EventLoopDelaySignal } from './event-loop-delay';

/**
 * The load-adaptive factor applied to every client's limit (`StoreCheckRequest.limitFactor`).
 * Every `intervalMs` it reads the load signal: over `target`, this instance's proposal falls
 * multiplicatively (x `decrease`); at or under it, it recovers additively (+ `increase`), within
 * [`minFactor`, 1] (AIMD, as TCP congestion control: quick to back off, slow to push again).
 * With scope 'shared' the factor in force is the smallest live proposal of every instance on the
 * store; otherwise it is this instance's own.
 */
export class AdaptiveLimit {
  readonly #options: ParsedAdaptiveOptions;
  readonly #store: Store;
  readonly #events: LimiterEvents | undefined;
  readonly #instanceId = randomUUID();
  readonly #defaultSignal: EventLoopDelaySignal | undefined;
  readonly #timer: NodeJS.Timeout | undefined;
  #proposal = 1;
  #factor = 1;
  #lastSignal: number | undefined;
  #ticking: Promise<void> | undefined;
  #closed = false;
  #warnedSignal = false;
  #warnedShare = false;

  /** @param timers false when the caller drives `tick()` itself (tests) */
  constructor(options: ParsedAdaptiveOptions, store: Store, events?: LimiterEvents, timers = true) {
    this.#options = options;
    this.#store = store;
    this.#events = events;
    if (options.signal === undefined) this.#defaultSignal = new EventLoopDelaySignal();
    events?.adaptiveFactor(1);
    if (timers) {
      this.#timer = setInterval(() => void this.tick(), options.intervalMs);
      this.#timer.unref();
    }
  }

  /** The factor in force now, in [minFactor, 1]. Read on every decision: a field, nothing more. */
  get factor(): number {
    return this.#factor;
  }

  /** This instance's own proposal (equal to `factor` with scope 'instance'). */
  get proposal(): number {
    return this.#proposal;
  }

  /** The last signal value read, or `undefined` before the first sample. */
  get lastSignal(): number | undefined {
    return this.#lastSignal;
  }

  /** True when the factor is shared through the store. */
  get shared(): boolean {
    return this.#options.scope === 'shared' && typeof this.#store.shareFactor === 'function';
  }

  /** Samples the signal once and adjusts the factor. Overlapping calls share one sample. */
  tick(): Promise<void> {
    this.#ticking ??= this.#sample().finally(() => {
      this.#ticking = undefined;
    });
    return this.#ticking;
  }

  async #sample(): Promise<void> {
    if (this.#closed) return;
    const o = this.#options;
    let value: number;
    try {
      // A signal that hangs must not hang close(): past one interval it counts as failed.
      value = this.#defaultSignal !== undefined ? this.#defaultSignal.read() : await withDeadline(Promise.resolve(o.signal!()), o.intervalMs);
      if (typeof value !== 'number' || Number.isNaN(value)) throw new TypeError(`the signal returned ${String(value)}, not a number`);
    } catch (error) {
      // A broken signal must not move the limits either way; say so once.
      if (!this.#warnedSignal) {
        this.#warnedSignal = true;
        process.emitWarning(`slidegate: adaptive.signal failed, the factor stays at ${this.#factor}: ${String(error)}`, {
          type: 'SlidegateWarning',
          code: 'SLIDEGATE_ADAPTIVE_SIGNAL',
        });
      }
      return;
    }
    this.#lastSignal = value;
    this.#proposal = value > o.target
      ? Math.max(o.minFactor, this.#proposal * o.decrease)
      : Math.min(1, this.#proposal + o.increase);
    // Rounded so that additive steps land back on exactly 1, not 0.9999999999999999.
    this.#proposal = Math.round(this.#proposal * 1e9) / 1e9;
    let factor = this.#proposal;
    if (this.shared) {
      try {
        factor = await withDeadline(
          this.#store.shareFactor!({
            group: o.group,
            instanceId: this.#instanceId,
            factor: this.#proposal,
            // Three intervals: a proposal outlives a late sample, and an instance that died stops counting soon.
            ttlSeconds: (3 * o.intervalMs) / 1000,
          }),
          o.intervalMs,
        );
      } catch (error) {
        // The store is unreachable: this instance's own factor still protects it.
        if (!this.#warnedShare) {
          this.#warnedShare = true;
          process.emitWarning(`slidegate: sharing the adaptive factor failed, using this instance's own: ${String(error)}`, {
            type: 'SlidegateWarning',
            code: 'SLIDEGATE_ADAPTIVE_SHARE',
          });
        }
      }
    }
    if (this.#closed) return;
    this.#factor = Math.max(o.minFactor, Math.min(1, factor));
    this.#events?.adaptiveFactor(this.#factor);
  }

  /** Stops sampling and withdraws this instance's proposal. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#defaultSignal?.close();
    await this.#ticking?.catch(() => undefined);
    if (this.shared) {
      await this.#store
        .shareFactor!({ group: this.#options.group, instanceId: this.#instanceId, factor: 1, ttlSeconds: 0 })
        .catch(() => undefined);
    }
  }
}

/** A frozen store or signal must not freeze the factor: a call that takes longer than an interval counts as failed. */
function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}
