/**
 * The reference model of several policies per client, written as plainly as possible: every client
 * keeps one list of recorded requests, and every figure is recomputed from it on every call. It
 * shares no code with `src/`.
 *
 * Rules it states:
 * - A request at t is evaluated at e = max(t, T); it is allowed iff every policy (L, W) has
 *   used(e, W) + cost <= L, and then recorded (with any lease units) at e, once, for all policies.
 * - retryAfter: the least d >= 1 such that the same request at e + d is allowed by every policy at
 *   once with no other traffic (found by trying every moment at which some record leaves some
 *   window), Infinity when cost exceeds some L.
 * - Window-change rule: the policy windows in force when the client last recorded (or settled) are
 *   remembered; when a call that records runs under a different set of windows, records at or before
 *   T - (the longest remembered window) are dropped for good. A call that only decides (a denial)
 *   sees the same view but keeps the history.
 * - Settle and lease release change units at a second `at` only while `at` is inside the longest
 *   window at T and not after T; refunds take from the newest records at `at` first.
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
  at: number;
  units: number;
}

interface Client {
  clock: number | undefined;
  records: Recorded[];
  /** Windows in force at the last record or settle. */
  windows: number[] | undefined;
  config: ModelConfig | undefined;
}

function usedAt(records: readonly Recorded[], at: number, windowSeconds: number): number {
  let used = 0;
  for (const r of records) if (r.at > at - windowSeconds && r.at <= at) used += r.units;
  return used;
}

export class PolicyModel {
  readonly #defaults: ModelPolicy[];
  tiers: Record<string, ModelPolicy[]>;
  readonly #clients = new Map<string, Client>();

  constructor(defaults: ModelPolicy[], tiers: Record<string, ModelPolicy[]> = {}) {
    this.#defaults = defaults.map((p) => ({ ...p }));
    this.tiers = tiers;
  }

  #client(id: string): Client {
    let c = this.#clients.get(id);
    if (c === undefined) {
      c = { clock: undefined, records: [], windows: undefined, config: undefined };
      this.#clients.set(id, c);
    }
    return c;
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

  /** The records that count under `windows`: all, unless the set changed since the last write. */
  #view(c: Client, windows: number[]): Recorded[] {
    if (c.windows === undefined || c.clock === undefined || c.windows.join() === windows.join()) return c.records;
    const horizon = c.clock - Math.max(...c.windows);
    return c.records.filter((r) => r.at > horizon);
  }

  #commit(c: Client, windows: number[]): void {
    c.records = this.#view(c, windows);
    c.windows = windows;
  }

  shadowOf(id: string): boolean {
    return this.#client(id).config?.shadow === true;
  }

  check(id: string, timestamp: number, cost: number, options: { extra?: number; factor?: number; release?: { at: number; units: number } } = {}): ModelPolicyDecision {
    const c = this.#client(id);
    const policies = this.policiesOf(id, options.factor ?? 1);
    const windows = policies.map((p) => p.windowSeconds);
    if (options.release !== undefined) this.#adjust(c, windows, options.release.at, -options.release.units);
    const records = this.#view(c, windows);
    const e = c.clock === undefined ? timestamp : Math.max(timestamp, c.clock);
    const used = policies.map((p) => usedAt(records, e, p.windowSeconds));
    const allowed = policies.every((p, i) => (used[i] as number) + cost <= p.limit);
    const granted = allowed ? Math.min(options.extra ?? 0, ...policies.map((p, i) => p.limit - (used[i] as number) - cost)) : 0;
    const allowsAt = (d: number): boolean => policies.every((p) => usedAt(records, e + d, p.windowSeconds) + cost <= p.limit);
    let retryAfter = 0;
    if (!allowed) {
      if (policies.some((p) => cost > p.limit)) retryAfter = Infinity;
      else {
        const candidates = new Set<number>([1]);
        for (const r of records) for (const p of policies) if (r.at + p.windowSeconds - e > 1) candidates.add(r.at + p.windowSeconds - e);
        retryAfter = [...candidates].sort((a, b) => a - b).find(allowsAt) as number;
      }
    }
    if (allowed) {
      this.#commit(c, windows);
      c.records.push({ at: e, units: cost + granted });
      c.clock = e;
    }
    const after = allowed ? c.records : records;
    const statuses = policies.map((p, i) => {
      const inWindow = after.filter((r) => r.at > e - p.windowSeconds && r.at <= e && r.units > 0);
      return {
        limit: p.limit,
        windowSeconds: p.windowSeconds,
        remaining: Math.max(0, p.limit - (used[i] as number) - (allowed ? cost + granted : 0)),
        resetAfter: inWindow.length === 0 ? 0 : Math.min(...inWindow.map((r) => r.at)) + p.windowSeconds - e,
        allows: (used[i] as number) + cost <= p.limit,
      };
    });
    // Binding: denied, the denying policy that waits longest alone; allowed, the least remaining (ties: longer window).
    const alone = policies.map((p) => {
      if (cost > p.limit) return Infinity;
      const candidates = [1, ...records.map((r) => r.at + p.windowSeconds - e).filter((d) => d > 1)].sort((x, y) => x - y);
      return candidates.find((d) => usedAt(records, e + d, p.windowSeconds) + cost <= p.limit) as number;
    });
    let b = -1;
    statuses.forEach((s, i) => {
      if (allowed ? b < 0 || s.remaining <= (statuses[b] as ModelPolicyStatus).remaining : !s.allows && (b < 0 || (alone[i] as number) >= (alone[b] as number))) b = i;
    });
    const binding = statuses[b] as ModelPolicyStatus;
    return { allowed, timestamp: e, granted, retryAfter, policies: statuses, policy: { limit: binding.limit, windowSeconds: binding.windowSeconds } };
  }

  /** Settle or lease release: units > 0 charge, < 0 refund, at second `at`. */
  adjust(id: string, at: number, units: number, factor = 1): void {
    const c = this.#client(id);
    this.#adjust(c, this.policiesOf(id, factor).map((p) => p.windowSeconds), at, units);
  }

  #adjust(c: Client, windows: number[], at: number, units: number): void {
    if (c.clock === undefined || units === 0 || at > c.clock) return;
    this.#commit(c, windows);
    if (at <= c.clock - Math.max(...windows)) return;
    if (units > 0) {
      c.records.push({ at, units });
      return;
    }
    let left = -units;
    for (let i = c.records.length - 1; i >= 0 && left > 0; i--) {
      const r = c.records[i] as Recorded;
      if (r.at !== at) continue;
      const take = Math.min(left, r.units);
      r.units -= take;
      left -= take;
    }
  }
}
