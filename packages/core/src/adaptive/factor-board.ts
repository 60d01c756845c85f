import type { FactorProposal } from '../types';

interface Proposal {
  factor: number;
  expiresAt: number;
}

/**
 * The in-process version of `Store.shareFactor`: proposals per group, each living `ttlSeconds` of
 * the board's clock, and the answer is the smallest live one (1 when none is live).
 */
export class FactorBoard {
  readonly #groups = new Map<string, Map<string, Proposal>>();
  readonly #now: () => number;

  /** @param now seconds */
  constructor(now: () => number) {
    this.#now = now;
  }

  propose(proposal: FactorProposal): number {
    const now = this.#now();
    let group = this.#groups.get(proposal.group);
    if (group === undefined) {
      group = new Map();
      this.#groups.set(proposal.group, group);
    }
    if (proposal.ttlSeconds > 0) group.set(proposal.instanceId, { factor: proposal.factor, expiresAt: now + proposal.ttlSeconds });
    else group.delete(proposal.instanceId);
    let min = 1;
    for (const [id, p] of group) {
      if (p.expiresAt <= now) group.delete(id);
      else if (p.factor < min) min = p.factor;
    }
    if (group.size === 0) this.#groups.delete(proposal.group);
    return min;
  }
}
