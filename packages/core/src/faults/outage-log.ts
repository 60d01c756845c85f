import type { StoreError } from '../errors';
import type { Store } from '../types';

type Emit = typeof process.emitWarning;

/** The code of the warning that says a store answers again. */
export const STORE_RECOVERED_WARNING = 'SLIDEGATE_STORE_RECOVERED';
/**
 * A recovery is reported once the store has answered for this long without a new failure: a
 * server that is shutting down, or a flapping link, answers a call or two between failures, and
 * that is still the same outage.
 */
export const RECOVERY_QUIET_MS = 2000;

/**
 * The default `onError`: during an outage each error code is reported once, as a coded process
 * warning naming the store's endpoint, and the recovery once more, so a long outage costs a few
 * lines of log instead of one per request. After a recovery the next outage is reported afresh.
 * One log per store, shared by its limiters: two limiters on one Redis do not double the lines.
 */
export class OutageLog {
  readonly #where: string;
  readonly #emit: Emit;
  readonly #reported = new Set<string>();
  #since = 0;
  #recovery: NodeJS.Timeout | undefined;

  constructor(endpoint: string | undefined, emit: Emit = process.emitWarning.bind(process)) {
    this.#where = endpoint === undefined ? 'the store' : `the store at ${endpoint}`;
    this.#emit = emit;
  }

  readonly error = (error: StoreError): void => {
    if (this.#recovery !== undefined) {
      // Not recovered after all: the same outage goes on.
      clearTimeout(this.#recovery);
      this.#recovery = undefined;
    }
    if (this.#reported.has(error.code)) return;
    if (this.#reported.size === 0) this.#since = Date.now();
    this.#reported.add(error.code);
    this.#emit(
      `slidegate: ${this.#where} failed: ${error.message.replace(/^slidegate: /, '')}. Decisions follow failureMode until it recovers; ` +
        `further ${error.code} are not reported until then.`,
      { type: 'SlidegateWarning', code: error.code },
    );
  };

  /** A call succeeded after a store-wide failure; says so once, if the failure was reported and no other follows soon. */
  readonly recovered = (): void => {
    if (this.#reported.size === 0 || this.#recovery !== undefined) return;
    this.#recovery = setTimeout(() => this.#report(), RECOVERY_QUIET_MS);
    this.#recovery.unref();
  };

  #report(): void {
    this.#recovery = undefined;
    const codes = [...this.#reported].join(', ');
    this.#reported.clear();
    const seconds = ((Date.now() - this.#since) / 1000).toFixed(1);
    this.#emit(`slidegate: ${this.#where} answers again, ${seconds} s after the first failure (${codes}); decisions are back on the store.`, {
      type: 'SlidegateWarning',
      code: STORE_RECOVERED_WARNING,
    });
  }
}

const logs = new WeakMap<Store, OutageLog>();

/** The outage log of `store`, shared by every limiter on it that keeps the default `onError`. */
export function outageLogOf(store: Store): OutageLog {
  let log = logs.get(store);
  if (log === undefined) {
    log = new OutageLog(store.endpoint);
    logs.set(store, log);
  }
  return log;
}
