import { expect } from 'chai';
import fc from 'fast-check';
import { parseList } from 'structured-headers';
import { MAX_SF_INTEGER, policyNameText, RateLimitHeaders, rateLimitHeaders } from '../src/http/headers';
import type { PolicyStatus } from '../src/policies/policy-types';
import type { Decision } from '../src/types';
import { assertSendable, assertStructured } from './sf-check';

const MODES = ['draft-6', 'draft-7', 'draft-8'] as const;
const count = fc.oneof(fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), fc.constant(Number.MAX_SAFE_INTEGER));
const windowSeconds = fc.integer({ min: 1, max: 31_536_000 });
const name = fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.constantFrom('限流', 'a"b', 'back\\slash', '%41', '\ud800', 'tab\there', 'new\nline'));

const decisionArb = fc.record({ limit: count, windowSeconds, used: count, resetAfter: windowSeconds, allowed: fc.boolean() }).map(
  ({ limit, windowSeconds: w, used, resetAfter, allowed }): Decision => {
    const remaining = Math.max(0, limit - Math.min(used, limit));
    return { allowed, limit, windowSeconds: w, remaining, retryAfter: allowed ? 0 : 1, resetAfter: Math.min(resetAfter, w), timestamp: 1_700_000_000, source: 'store' };
  },
);

const policiesArb = fc.uniqueArray(fc.record({ limit: count, windowSeconds, remaining: count, resetAfter: windowSeconds }), { minLength: 2, maxLength: 8, selector: (p) => p.windowSeconds });

describe('http headers parse as structured fields (drafts 6, 7 and 8)', () => {
  it('for any policy name, limit and decision, every value a header mode sends parses and Node would send it', () => {
    fc.assert(
      fc.property(fc.constantFrom(...MODES), fc.option(name, { nil: undefined }), decisionArb, fc.string({ minLength: 1 }), (mode, policyName, decision, key) => {
        const lines = [...rateLimitHeaders(mode, decision, key, policyName), ...new RateLimitHeaders(mode, policyName).lines(decision, key)];
        for (const line of lines) {
          assertSendable(line.value);
          assertStructured(mode, line.key, line.value);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('for any policy set (policy mode), equal limits included, every value parses', () => {
    fc.assert(
      fc.property(fc.constantFrom(...MODES), fc.option(name, { nil: undefined }), policiesArb, fc.nat(7), (mode, policyName, statuses, pick) => {
        const policies = statuses.map((p) => ({ ...p, remaining: Math.min(p.remaining, p.limit) })) as PolicyStatus[];
        const binding = policies[pick % policies.length] as PolicyStatus;
        const decision: Decision = { allowed: true, limit: binding.limit, windowSeconds: binding.windowSeconds, remaining: binding.remaining, retryAfter: 0, resetAfter: binding.resetAfter, timestamp: 1, source: 'store', policies };
        for (const line of rateLimitHeaders(mode, decision, 'k', policyName)) {
          assertSendable(line.value);
          assertStructured(mode, line.key, line.value);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('encodes names a structured-field string cannot hold, once and reversibly', () => {
    expect(policyNameText('api')).to.equal('api');
    expect(policyNameText('a"b\\c')).to.equal('a\\"b\\\\c');
    expect(policyNameText('限流')).to.equal('%E9%99%90%E6%B5%81');
    expect(policyNameText('50%')).to.equal('50%25');
    expect(decodeURIComponent(policyNameText('限流 50%'))).to.equal('限流 50%');
    const [item] = parseList(rateLimitHeaders('draft-8', decisionOf(10), 'k', 'say "hi" 限流')[1]!.value);
    expect(item?.[0].toString()).to.equal('say "hi" %E9%99%90%E6%B5%81');
  });

  it('caps counts where structured-field integers end (15 digits)', () => {
    const lines = rateLimitHeaders('draft-7', decisionOf(Number.MAX_SAFE_INTEGER), 'k', undefined);
    expect(lines.map((l) => l.value)).to.deep.equal([`${MAX_SF_INTEGER};w=60`, `limit=${MAX_SF_INTEGER}, remaining=${MAX_SF_INTEGER}, reset=60`]);
  });

  it('draft-6/7 list only policies that can bind: of two with one limit, the longer window', () => {
    const policies: PolicyStatus[] = [
      { limit: 10, windowSeconds: 1, remaining: 9, resetAfter: 1 },
      { limit: 10, windowSeconds: 60, remaining: 9, resetAfter: 60 },
      { limit: 100, windowSeconds: 3600, remaining: 99, resetAfter: 3600 },
    ] as PolicyStatus[];
    const decision: Decision = { ...decisionOf(10), policies };
    expect(rateLimitHeaders('draft-7', decision, 'k', undefined)[0]?.value).to.equal('10;w=60, 100;w=3600');
  });
});

function decisionOf(limit: number): Decision {
  return { allowed: true, limit, windowSeconds: 60, remaining: limit, retryAfter: 0, resetAfter: 60, timestamp: 1_700_000_000, source: 'store' };
}
