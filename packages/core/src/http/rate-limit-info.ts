import type { ClientLimit, Decision } from '../types';
import type { RateLimitInfo } from './types';

/**
 * A request's rate-limit state (`RateLimitInfo`). The figures are read from the decision when asked
 * for, so a request whose app never looks at them pays for one small object only.
 */
export class RequestRateLimit implements RateLimitInfo {
  readonly decision: Decision;
  readonly key: string;
  readonly statusCode: number;
  /** Units the request asked for: what is given back when it should not count. */
  readonly cost: number;

  constructor(decision: Decision, key: string, statusCode: number, cost: number) {
    this.decision = decision;
    this.key = key;
    this.statusCode = statusCode;
    this.cost = cost;
  }

  get limit(): number {
    return this.decision.limit;
  }

  get used(): number {
    return this.decision.limit - this.decision.remaining;
  }

  get remaining(): number {
    return this.decision.remaining;
  }

  get resetAfter(): number {
    return this.decision.resetAfter;
  }

  get resetTime(): Date {
    return new Date((this.decision.timestamp + this.decision.resetAfter) * 1000);
  }

  get policy(): ClientLimit {
    const { policy, limit, windowSeconds } = this.decision;
    return policy === undefined ? { limit, windowSeconds } : { ...policy };
  }

  /** What a logger or `JSON.stringify(req.rateLimit)` shows: the figures, not the getters' absence. */
  toJSON(): Record<string, unknown> {
    const { key, limit, used, remaining, resetAfter, resetTime, policy } = this;
    return { key, limit, used, remaining, resetAfter, resetTime, policy };
  }
}
