/** A call's deadline in a `DeadlineQueue`. */
export interface Deadline {
  /** performance.now() when the deadline was (re)armed. */
  armedAt: number;
  /** True once moved back by a stall of this process (see `DeadlineQueue`): it happens once. */
  rearmed: boolean;
  /** 'pending' until the call settles or the deadline passes, whichever comes first. */
  state: 'pending' | 'settled' | 'expired';
  readonly onExpire: () => void;
}

/** Once this many deadlines at the front are gone, the array drops them. */
const COMPACT_AFTER = 1024;

/**
 * Deadlines of calls with one timeout, on one timer. Calls made in order expire in order, so the
 * queue is first in, first out and only its front needs a timer: many calls in flight cost no
 * timer each (a timer armed and cleared per call was a measurable part of a decision).
 *
 * Timers run before I/O in each turn of the event loop: after a stall (GC, a busy CPU) the answer
 * may already sit in the socket. A due deadline therefore expires on setImmediate, after this
 * turn's I/O was read, so a stall of our own process is not mistaken for a slow store. A deadline
 * found late by a whole timeout means such a stall, which may also have held the call itself back
 * (a store that batches sends at the end of the tick): it gets one more timeout.
 */
export class DeadlineQueue {
  readonly timeoutMs: number;
  #deadlines: Deadline[] = [];
  #front = 0;
  /** Deadlines neither settled nor expired (some may wait on setImmediate, out of the array). */
  #pending = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(timeoutMs: number) {
    this.timeoutMs = timeoutMs;
  }

  /** A deadline `timeoutMs` from now; `onExpire` runs if it passes before `settle()`. */
  add(onExpire: () => void): Deadline {
    const deadline: Deadline = { armedAt: performance.now(), rearmed: false, state: 'pending', onExpire };
    this.#deadlines.push(deadline);
    this.#pending++;
    this.#timer ??= setTimeout(this.#fire, this.timeoutMs);
    return deadline;
  }

  /** Marks the call answered; false when its deadline passed first (the answer is late). */
  settle(deadline: Deadline): boolean {
    if (deadline.state !== 'pending') return false;
    deadline.state = 'settled';
    // Calls mostly settle in order: the settled front goes now, so the array stays as short as what is in flight.
    if (--this.#pending === 0) this.#clear();
    else this.#skipAnswered();
    return true;
  }

  /** Moves the front past deadlines no longer pending, and drops them from the array once they are many. */
  #skipAnswered(): void {
    const deadlines = this.#deadlines;
    while (this.#front < deadlines.length && (deadlines[this.#front] as Deadline).state !== 'pending') this.#front++;
    if (this.#front >= COMPACT_AFTER && this.#front * 2 >= deadlines.length) {
      this.#deadlines = deadlines.slice(this.#front);
      this.#front = 0;
    }
  }

  /** Nothing pending: no timer keeps the process alive. */
  #clear(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#deadlines = [];
    this.#front = 0;
  }

  readonly #fire = (): void => {
    this.#timer = undefined;
    const now = performance.now();
    const timeoutMs = this.timeoutMs;
    const due: Deadline[] = [];
    for (;;) {
      this.#skipAnswered();
      const deadline = this.#deadlines[this.#front];
      if (deadline === undefined || now < deadline.armedAt + timeoutMs) break;
      this.#front++;
      if (!deadline.rearmed && now - deadline.armedAt >= 2 * timeoutMs) {
        // Every deadline behind it was armed no later than now, so the order still holds.
        deadline.rearmed = true;
        deadline.armedAt = now;
        this.#deadlines.push(deadline);
      } else {
        due.push(deadline);
      }
    }
    const next = this.#deadlines[this.#front];
    if (next !== undefined) this.#timer = setTimeout(this.#fire, Math.max(1, Math.ceil(next.armedAt + timeoutMs - now)));
    if (due.length > 0) setImmediate(() => this.#expire(due));
  };

  #expire(due: Deadline[]): void {
    for (const deadline of due) {
      if (deadline.state !== 'pending') continue;
      deadline.state = 'expired';
      if (--this.#pending === 0) this.#clear();
      deadline.onExpire();
    }
  }
}
