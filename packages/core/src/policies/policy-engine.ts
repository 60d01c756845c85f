import { CountDeque, firstCounted } from '../algorithms/count-deque';
import { bucketWidth } from '../time';
import type { ClientLimit } from '../types';
import type { PolicyStatus, PolicyStoreDecision } from './policy-types';

/**
 * The exact sliding window for several policies at once, in process. One count deque per policy
 * window, all recorded together at the client's clock, so each holds the same records pruned to
 * its own window. The Redis script (stores/redis/policy-scripts.ts) mirrors this, step for step.
 */
export class PolicyState {
  /** The client's clock T: the newest effective time (ms) of a recorded request; -1 for none. */
  clock = -1;
  expiresAt = 0;
  /** The windows the deques were built for, ascending. */
  windows: number[] = [];
  deques: CountDeque[] = [];
}

export interface PolicyCheck {
  /** Whole ms. */
  timestamp: number;
  /** The limiter's `bucketMs` option; each policy's bucket width follows its own window. */
  bucketMs: number | undefined;
  cost: number;
  /** Effective policies (limit factor applied), shortest window first. */
  policies: readonly ClientLimit[];
  extra: number;
}

function sameWindows(a: readonly number[], policies: readonly ClientLimit[]): boolean {
  if (a.length !== policies.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== (policies[i] as ClientLimit).windowSeconds) return false;
  return true;
}

/** The deques for a policy set; `commit` makes them the state's (see `reconciled`). */
interface PolicyView {
  deques: CountDeque[];
  commit(): void;
}

/**
 * The window-change rule for a change of the policy set, applied at the client's clock T by the
 * first call that records (or adjusts) under the new set; a denial changes nothing, as in Redis.
 * A kept window keeps its records; a new window starts from the records still inside the longest
 * previously recorded window at T (every policy records the same requests), and never from
 * anything older, so a new or longer window never resurrects requests that had left every window.
 * Seeded units move to the new window's bucket of min(end of their old bucket, T).
 */
export function reconciled(state: PolicyState, policies: readonly ClientLimit[], bucketMs: number | undefined): PolicyView {
  if (sameWindows(state.windows, policies)) return { deques: state.deques, commit: () => undefined };
  const deques: CountDeque[] = [];
  const windows = policies.map((p) => p.windowSeconds);
  const oldLongest = state.windows.length === 0 ? undefined : (state.windows[state.windows.length - 1] as number);
  const source = oldLongest === undefined ? undefined : state.deques[state.deques.length - 1];
  for (const w of windows) {
    const kept = state.windows.indexOf(w);
    if (kept >= 0) {
      deques.push(state.deques[kept] as CountDeque);
      continue;
    }
    const d = new CountDeque();
    d.g = bucketWidth(w, bucketMs);
    if (source !== undefined && state.clock >= 0) {
      const clock = state.clock;
      const gs = source.g;
      const horizon = firstCounted(clock, (oldLongest as number) * 1000, gs) - 1;
      source.forEachRecord((bucket, units) => {
        if (bucket <= horizon || units <= 0) return;
        const end = (bucket + 1) * gs - 1;
        d.record(Math.floor((end < clock ? end : clock) / d.g), units, true);
      });
      d.clock = clock;
    }
    deques.push(d);
  }
  return {
    deques,
    commit: () => {
      state.windows = windows;
      state.deques = deques;
    },
  };
}

/**
 * Removes (units < 0) or adds (units > 0) units in the bucket of `at` (ms) of each policy whose
 * window at the clock still counts that bucket.
 */
export function adjust(state: PolicyState, policies: readonly ClientLimit[], at: number, units: number, bucketMs: number | undefined): void {
  // A reservation is never ahead of its client's clock; one that is belongs to a forgotten history.
  if (state.clock < 0 || units === 0 || at > state.clock) return;
  reconciled(state, policies, bucketMs).commit();
  for (let i = 0; i < state.windows.length; i++) {
    const d = state.deques[i] as CountDeque;
    const bucket = Math.floor(at / d.g);
    if (bucket < firstCounted(state.clock, (state.windows[i] as number) * 1000, d.g)) continue;
    if (units < 0) d.remove(bucket, -units);
    else d.insert(bucket, units);
  }
}

/** One atomic decision over every policy: all allow, or nothing is recorded. */
export function checkPolicies(state: PolicyState, r: PolicyCheck): PolicyStoreDecision {
  const { cost, policies } = r;
  const view = reconciled(state, policies, r.bucketMs);
  const deques = view.deques;
  const clock = state.clock;
  const e = r.timestamp > clock ? r.timestamp : clock;
  const n = policies.length;
  const used: number[] = new Array<number>(n);
  let allowed = true;
  let room = Infinity;
  for (let i = 0; i < n; i++) {
    const { limit, windowSeconds } = policies[i] as ClientLimit;
    const d = deques[i] as CountDeque;
    const g = bucketWidth(windowSeconds, r.bucketMs);
    if (d.g !== g) {
      // A new bucketMs setting: the clock the move is capped at is the client's.
      d.clock = clock;
      d.rebucket(g);
    }
    // Only what has left the window at the clock may go (see count-deque.ts).
    if (clock >= 0) d.prune(firstCounted(clock, windowSeconds * 1000, g) - 1);
    const u = d.unitsAfter(firstCounted(e, windowSeconds * 1000, g) - 1);
    used[i] = u;
    if (u + cost > limit) allowed = false;
    room = Math.min(room, limit - u - cost);
  }
  const granted = allowed ? Math.min(r.extra, room) : 0;
  if (allowed) {
    for (let i = 0; i < n; i++) {
      const d = deques[i] as CountDeque;
      d.prune(firstCounted(e, (policies[i] as ClientLimit).windowSeconds * 1000, d.g) - 1);
      d.record(Math.floor(e / d.g), cost + granted, true);
      d.clock = e;
    }
    view.commit();
    state.clock = e;
  }
  const statuses: PolicyStatus[] = new Array<PolicyStatus>(n);
  const retries: number[] = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const { limit, windowSeconds } = policies[i] as ClientLimit;
    const d = deques[i] as CountDeque;
    const u = used[i] as number;
    const allows = u + cost <= limit;
    const usedAfter = allowed ? u + cost + granted : u;
    const windowMs = windowSeconds * 1000;
    const g = d.g;
    const oldest = d.oldestAfter(firstCounted(e, windowMs, g) - 1);
    statuses[i] = {
      limit,
      windowSeconds,
      remaining: Math.max(0, limit - usedAfter),
      resetAfter: oldest >= 0 ? ((oldest + 1) * g + windowMs - 1 - e) / 1000 : 0,
      allows,
    };
    retries[i] = allows ? 0 : cost > limit ? Infinity : d.delayUntilAtMost(limit - cost, e, windowMs, g) / 1000;
  }
  return policyDecision(allowed, statuses, retries, e / 1000, granted);
}

/**
 * Picks the binding policy. Denied: the denying policy with the longest wait; each policy's set
 * of allowing delays is upward closed (with no traffic its window only empties), so the least
 * delay at which every policy allows is the largest of theirs. Allowed: the least remaining
 * (ties: the longer window, which takes longer to recover).
 */
/** `e` and `retries` in seconds, as the decision carries them. */
export function policyDecision(allowed: boolean, statuses: PolicyStatus[], retries: number[], e: number, granted: number): PolicyStoreDecision {
  let b = -1;
  for (let i = 0; i < statuses.length; i++) {
    const s = statuses[i] as PolicyStatus;
    if (allowed) {
      if (b < 0 || s.remaining <= (statuses[b] as PolicyStatus).remaining) b = i;
    } else if (!s.allows && (b < 0 || (retries[i] as number) >= (retries[b] as number))) {
      b = i;
    }
  }
  const binding = statuses[b] as PolicyStatus;
  return {
    allowed,
    limit: binding.limit,
    windowSeconds: binding.windowSeconds,
    remaining: binding.remaining,
    retryAfter: allowed ? 0 : (retries[b] as number),
    resetAfter: binding.resetAfter,
    timestamp: e,
    source: 'store',
    granted,
    policy: { limit: binding.limit, windowSeconds: binding.windowSeconds },
    policies: statuses,
  };
}
