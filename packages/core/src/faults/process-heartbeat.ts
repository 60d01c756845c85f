import { randomUUID } from 'node:crypto';
import type { Store } from '../types';

/**
 * This process's id in every store's live set. The `'local'` share divides a limit among
 * processes, not limiters: an application with several limiters (several middlewares, a route
 * limiter beside a global one) is one instance, and a lone process keeps its whole limit.
 */
export const PROCESS_INSTANCE_ID = randomUUID();

export const DEFAULT_HEARTBEAT_INTERVAL_MS = 5000;
/** Until the first count is known (the connection was not ready at startup), ask this often. */
const HEARTBEAT_RETRY_MS = 1000;

/** A limiter's view of the heartbeat it shares with the other limiters of its store. */
export interface HeartbeatMembership {
  /** Live processes on the store, this one included, as last counted; 0 until the first count. */
  readonly live: number;
  /** Leaves the heartbeat; the last limiter to leave stops it and takes the process out of the live set. */
  leave(): Promise<void>;
}

interface HeartbeatOptions {
  /** Beat period in ms; the process counts as live for 3 periods. */
  intervalMs: number;
  /** Deadline of each heartbeat call, in ms: a heartbeat never hangs anything. */
  timeoutMs: number;
}

type Beat = (instanceId: string, ttlSeconds: number) => Promise<number>;

/**
 * One heartbeat per process and store: the first limiter of a store starts it, later ones join it,
 * and every one reads the same count. Stores that wrap another (metrics) are seen through to the
 * store that beats, so limiters with and without metrics on one RedisStore share it too.
 */
class SharedHeartbeat {
  live = 0;
  members = 0;
  readonly #beat: Beat;
  readonly #options: HeartbeatOptions;
  readonly #timer: NodeJS.Timeout;
  #stopped = false;

  constructor(beat: Beat, options: HeartbeatOptions) {
    this.#beat = beat;
    this.#options = options;
    this.#tick();
    this.#timer = setInterval(() => this.#tick(), options.intervalMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    // Leave the live set so the others' share grows at once; best effort (else it expires in 3 periods).
    if (this.live > 0) await this.#call(0);
  }

  #tick(): void {
    if (this.#stopped) return;
    void this.#call((3 * this.#options.intervalMs) / 1000).then((count) => {
      if (this.#stopped) return;
      if (count !== undefined && Number.isSafeInteger(count) && count >= 1) this.live = count;
      else if (this.live === 0) setTimeout(() => this.#tick(), Math.min(this.#options.intervalMs, HEARTBEAT_RETRY_MS)).unref();
    });
  }

  /** One heartbeat call, bounded by the timeout; undefined when it failed or took too long. */
  #call(ttlSeconds: number): Promise<number | undefined> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(undefined), this.#options.timeoutMs);
      // Through a promise, so a store that throws synchronously counts as a failed beat.
      Promise.resolve()
        .then(() => this.#beat(PROCESS_INSTANCE_ID, ttlSeconds))
        .then(
        (count) => {
          clearTimeout(timer);
          resolve(count);
        },
        () => {
          clearTimeout(timer);
          resolve(undefined);
        },
      );
    });
  }
}

const heartbeats = new WeakMap<Store, SharedHeartbeat>();

/** The store whose heartbeat is called: wrappers (metrics) expose the store they wrap as `inner`. */
function beatingStore(store: Store): Store {
  let current = store;
  for (;;) {
    const inner = (current as { inner?: unknown }).inner;
    if (typeof inner !== 'object' || inner === null || typeof (inner as Store).heartbeat !== 'function') return current;
    current = inner as Store;
  }
}

/**
 * Joins the heartbeat of `store` (which must implement `heartbeat`), starting it for the first
 * limiter of the store in this process.
 */
export function joinHeartbeat(store: Store, options: HeartbeatOptions): HeartbeatMembership {
  const root = beatingStore(store);
  let shared = heartbeats.get(root);
  if (shared === undefined) {
    const beat: Beat = (id, ttl) => (root.heartbeat as Beat).call(root, id, ttl);
    shared = new SharedHeartbeat(beat, options);
    heartbeats.set(root, shared);
  }
  shared.members++;
  const joined = shared;
  let left = false;
  return {
    get live() {
      return joined.live;
    },
    async leave() {
      if (left) return;
      left = true;
      joined.members--;
      if (joined.members > 0) return;
      if (heartbeats.get(root) === joined) heartbeats.delete(root);
      await joined.stop();
    },
  };
}
