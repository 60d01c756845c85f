/**
 * The reference model of several policies per client, written as plainly as possible: every client
 * keeps, per policy window, the list of recorded requests, and every figure is recomputed from them
 * on every call. It shares no code with `src/`. Times are whole ms inside (requests come in ms, as
 * a store gets them); decisions come out in seconds.
 *
 * Rules it states (SPEC, time and the exact window, for each policy with its own bucket width g):
 * - A request at t is evaluated at e = max(t, T); it is allowed iff every policy (L, W) has
 *   used(e) + cost <= L, used(e) being the units in the buckets b(e - W + 1) .. b(e) of that
 *   policy's g; and then recorded (with any lease units) at e, once, for all policies.
 * - retryAfter: the least d >= 1 ms such that the same request at e + d is allowed by every policy
 *   at once with no other traffic (found by trying every moment at which some bucket leaves some
 *   window), Infinity when cost exceeds some L.
 * - Window-change rule: the policy windows in force when the client last recorded (or settled) are
 *   remembered; when a call that records runs under a different set of windows, a kept window keeps
 *   its records, and a new one starts from the records the longest remembered window counted at T,
 *   each in the new window's bucket of min(end of its old bucket, T). A call that only decides (a
 *   denial) sees the same view but keeps the history.
 * - Settle and lease release change units in the bucket of `at`, in each window that still counts
 *   that bucket at T, never after T; refunds take from that bucket.
 */

export interface ModelPolicy {
  limit: number;
  windowSeconds: number;
}

export interface ModelConfig {
  tier?: string;
  policies?: ModelPolicy[];
  shadow?: boolean;
}

export interface ModelPolicyStatus extends ModelPolicy {
  remaining: number;
  resetAfter: number;
  allows: boolean;
}

export interface ModelPolicyDecision {
  allowed: boolean;
  timestamp: number;
  granted: number;
  /** The least delay at which every policy allows (Infinity when none ever will). */
  retryAfter: number;
  policies: ModelPolicyStatus[];
  /** The binding policy by the documented rule. */
  policy: ModelPolicy;
}

interface Recorded {
  /** The time whose bucket holds the units (its effective time, or where a window change moved it). */
  slot: number;
  units: number;
}

interface Client {
  clock: number | undefined;
  /** Per window (seconds) in force at the last record or settle: its records. */
  lists: Map<number, Recorded[]> | undefined;
  config: ModelConfig | undefined;
}

/** SPEC: g = ceil(W_ms / 60) by default; with bucketMs, min(bucketMs, W_ms). */
function bucketOf(windowSeconds: number, bucketMs: number | undefined): number {
  return bucketMs === undefined ? Math.ceil((windowSeconds * 1000) / 60) : Math.min(bucketMs, windowSeconds * 1000);
}

function counts(slot: number, at: number, windowSeconds: number, g: number): boolean {
  const b = Math.floor(slot / g);
  return b >= Math.floor((at - windowSeconds * 1000 + 1) / g) && b <= Math.floor(at / g);
}

function usedAt(records: readonly Recorded[], at: number, windowSeconds: number, g: number): number {
  let used = 0;
  for (const r of records) if (counts(r.slot, at, windowSeconds, g)) used += r.units;
  return used;
}

/** The delays (ms from e) at which some record's bucket leaves the window. */
function leaving(records: readonly Recorded[], e: number, windowSeconds: number, g: number): number[] {
  return records.map((r) => (Math.floor(r.slot / g) + 1) * g + windowSeconds * 1000 - 1 - e);
}

export class PolicyModel {
  readonly #defaults: ModelPolicy[];
  readonly #bucketMs: number | undefined;
  tiers: Record<string, ModelPolicy[]>;
  readonly #clients = new Map<string, Client>();

  constructor(defaults: ModelPolicy[], tiers: Record<string, ModelPolicy[]> = {}, bucketMs?: number) {
    this.#defaults = defaults.map((p) => ({ ...p }));
    this.tiers = tiers;
    this.#bucketMs = bucketMs;
  }

  #client(id: string): Client {
    let c = this.#clients.get(id);
    if (c === undefined) {
      c = { clock: undefined, lists: undefined, config: undefined };
      this.#clients.set(id, c);
    }
    return c;
  }

  #g(windowSeconds: number): number {
    return bucketOf(windowSeconds, this.#bucketMs);
  }

  setConfig(id: string, config: ModelConfig): void {
    this.#client(id).config = config;
  }

  /** The policies in force: own replace the defaults; with a tier, own are laid over it by window. */
  policiesOf(id: string, factor = 1): ModelPolicy[] {
    const config = this.#client(id).config;
    let list: ModelPolicy[];
    if (config?.tier === undefined) {
      list = config?.policies ?? this.#defaults;
    } else {
      const merged = new Map<number, number>();
      for (const p of this.tiers[config.tier] ?? this.#defaults) merged.set(p.windowSeconds, p.limit);
      for (const p of config.policies ?? []) merged.set(p.windowSeconds, p.limit);
      list = [...merged].map(([windowSeconds, limit]) => ({ limit, windowSeconds }));
    }
    return list
      .map((p) => ({ limit: Math.floor(p.limit * factor), windowSeconds: p.windowSeconds }))
      .sort((a, b) => a.windowSeconds - b.windowSeconds);
  }

  /** The records of each window in `windows`: kept ones as they are, new ones seeded by the window-change rule. */
  #view(c: Client, windows: number[]): Map<number, Recorded[]> {
    const view = new Map<number, Recorded[]>();
    const lists = c.lists;
    for (const w of windows) {
      const kept = lists?.get(w);
      if (kept !== undefined) {
        view.set(w, kept);
        continue;
      }
      const seed: Recorded[] = [];
      if (lists !== undefined && c.clock !== undefined) {
        const T = c.clock;
        const longest = Math.max(...lists.keys());
        const gOld = this.#g(longest);
        for (const r of lists.get(longest) as Recorded[]) {
          if (r.units > 0 && counts(r.slot, T, longest, gOld)) seed.push({ slot: Math.min((Math.floor(r.slot / gOld) + 1) * gOld - 1, T), units: r.units });
        }
      }
      view.set(w, seed);
    }
    return view;
  }

  #commit(c: Client, windows: number[]): void {
    c.lists = this.#view(c, windows);
  }

  shadowOf(id: string): boolean {
    return this.#client(id).config?.shadow === true;
  }

  check(id: string, timestamp: number, cost: number, options: { extra?: number; factor?: number; release?: { at: number; units: number } } = {}): ModelPolicyDecision {
    const c = this.#client(id);
    const policies = this.policiesOf(id, options.factor ?? 1);
    const windows = policies.map((p) => p.windowSeconds);
    if (options.release !== undefined) this.#adjust(c, windows, options.release.at, -options.release.units);
    const view = this.#view(c, windows);
    const listOf = (w: number): Recorded[] => view.get(w) as Recorded[];
    const e = c.clock === undefined ? timestamp : Math.max(timestamp, c.clock);
    const used = policies.map((p) => usedAt(listOf(p.windowSeconds), e, p.windowSeconds, this.#g(p.windowSeconds)));
    const allowed = policies.every((p, i) => (used[i] as number) + cost <= p.limit);
    const granted = allowed ? Math.min(options.extra ?? 0, ...policies.map((p, i) => p.limit - (used[i] as number) - cost)) : 0;
    const allowsAt = (d: number): boolean => policies.every((p) => usedAt(listOf(p.windowSeconds), e + d, p.windowSeconds, this.#g(p.windowSeconds)) + cost <= p.limit);
    let retryAfter = 0;
    if (!allowed) {
      if (policies.some((p) => cost > p.limit)) retryAfter = Infinity;
      else {
        const candidates = new Set<number>([1]);
        for (const p of policies) for (const d of leaving(listOf(p.windowSeconds), e, p.windowSeconds, this.#g(p.windowSeconds))) if (d > 1) candidates.add(d);
        retryAfter = ([...candidates].sort((a, b) => a - b).find(allowsAt) as number) / 1000;
      }
    }
    if (allowed) {
      c.lists = view;
      for (const w of windows) listOf(w).push({ slot: e, units: cost + granted });
      c.clock = e;
    }
    const statuses = policies.map((p, i) => {
      const g = this.#g(p.windowSeconds);
      const inWindow = listOf(p.windowSeconds).filter((r) => r.units > 0 && counts(r.slot, e, p.windowSeconds, g));
      return {
        limit: p.limit,
        windowSeconds: p.windowSeconds,
        remaining: Math.max(0, p.limit - (used[i] as number) - (allowed ? cost + granted : 0)),
        // The oldest counted bucket leaves first.
        resetAfter: inWindow.length === 0 ? 0 : Math.min(...leaving(inWindow, e, p.windowSeconds, g)) / 1000,
        allows: (used[i] as number) + cost <= p.limit,
      };
    });
    // Binding: denied, the denying policy that waits longest alone; allowed, the least remaining (ties: longer window).
    const alone = policies.map((p) => {
      if (cost > p.limit) return Infinity;
      const g = this.#g(p.windowSeconds);
      const records = listOf(p.windowSeconds);
      const candidates = [1, ...leaving(records, e, p.windowSeconds, g).filter((d) => d > 1)].sort((x, y) => x - y);
      return candidates.find((d) => usedAt(records, e + d, p.windowSeconds, g) + cost <= p.limit) as number;
    });
    let b = -1;
    statuses.forEach((s, i) => {
      if (allowed ? b < 0 || s.remaining <= (statuses[b] as ModelPolicyStatus).remaining : !s.allows && (b < 0 || (alone[i] as number) >= (alone[b] as number))) b = i;
    });
    const binding = statuses[b] as ModelPolicyStatus;
    return { allowed, timestamp: e / 1000, granted, retryAfter, policies: statuses, policy: { limit: binding.limit, windowSeconds: binding.windowSeconds } };
  }

  /** Settle or lease release: units > 0 charge, < 0 refund, at time `at` (ms). */
  adjust(id: string, at: number, units: number, factor = 1): void {
    const c = this.#client(id);
    this.#adjust(c, this.policiesOf(id, factor).map((p) => p.windowSeconds), at, units);
  }

  #adjust(c: Client, windows: number[], at: number, units: number): void {
    if (c.clock === undefined || units === 0 || at > c.clock) return;
    this.#commit(c, windows);
    const T = c.clock;
    for (const w of windows) {
      const g = this.#g(w);
      const records = c.lists?.get(w) as Recorded[];
      if (Math.floor(at / g) < Math.floor((T - w * 1000 + 1) / g)) continue;
      if (units > 0) {
        records.push({ slot: at, units });
        continue;
      }
      let left = -units;
      for (let i = records.length - 1; i >= 0 && left > 0; i--) {
        const r = records[i] as Recorded;
        if (Math.floor(r.slot / g) !== Math.floor(at / g)) continue;
        const take = Math.min(left, r.units);
        r.units -= take;
        left -= take;
      }
    }
  }
}
