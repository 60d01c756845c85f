import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { defaultPolicyName, partitionKey, RateLimitHeaders, rateLimitHeaders, retryAfterHeader } from '../src/http/headers';
import type { PolicyStatus } from '../src/policies/policy-types';
import type { Decision } from '../src/types';

const decision: Decision = {
  allowed: true,
  limit: 10,
  windowSeconds: 60,
  remaining: 7,
  retryAfter: 0,
  resetAfter: 42,
  timestamp: 1_700_000_000,
  source: 'store',
};

const lines = (mode: Parameters<typeof rateLimitHeaders>[0], d = decision, name?: string) =>
  rateLimitHeaders(mode, d, '203.0.113.7', name).map((h) => [h.name, h.value, h.append]);

describe('http rate-limit headers, as express-rate-limit formats them', () => {
  it('every line of every mode carries its name in lower case as its key', () => {
    const denied = { ...decision, allowed: false, remaining: 0, retryAfter: 5 };
    const sent = (['draft-8', 'draft-7', 'draft-6', 'legacy'] as const).flatMap((mode) => rateLimitHeaders(mode, denied, '203.0.113.7', undefined));
    sent.push(retryAfterHeader(denied) ?? { name: 'missing', key: '', value: '', append: false });
    sent.push(...new RateLimitHeaders('draft-8', undefined).lines(denied, '203.0.113.7'));
    expect(sent).to.have.length(14);
    for (const header of sent) expect(header.key, header.name).to.equal(header.name.toLowerCase());
  });

  it('draft-8: named RateLimit and RateLimit-Policy with q, w, pk, r, t (appended)', () => {
    const pk = Buffer.from(createHash('sha256').update('203.0.113.7').digest('hex').slice(0, 12)).toString('base64');
    expect(partitionKey('203.0.113.7')).to.equal(pk);
    expect(lines('draft-8')).to.deep.equal([
      ['RateLimit-Policy', `"10-in-1min"; q=10; w=60; pk=:${pk}:`, true],
      ['RateLimit', '"10-in-1min"; r=7; t=42', true],
    ]);
    expect(lines('draft-8', decision, 'api')[1]).to.deep.equal(['RateLimit', '"api"; r=7; t=42', true]);
  });

  it('draft-7: combined RateLimit and RateLimit-Policy', () => {
    expect(lines('draft-7')).to.deep.equal([
      ['RateLimit-Policy', '10;w=60', false],
      ['RateLimit', 'limit=10, remaining=7, reset=42', false],
    ]);
  });

  it('draft-6: separate RateLimit-* and RateLimit-Policy', () => {
    expect(lines('draft-6')).to.deep.equal([
      ['RateLimit-Policy', '10;w=60', false],
      ['RateLimit-Limit', '10', false],
      ['RateLimit-Remaining', '7', false],
      ['RateLimit-Reset', '42', false],
    ]);
  });

  it('legacy: X-RateLimit-* with the reset as Unix seconds', () => {
    expect(lines('legacy')).to.deep.equal([
      ['X-RateLimit-Limit', '10', false],
      ['X-RateLimit-Remaining', '7', false],
      ['X-RateLimit-Reset', String(1_700_000_042), false],
    ]);
  });

  it('none and false: no headers', () => {
    expect(lines('none')).to.deep.equal([]);
    expect(lines(false)).to.deep.equal([]);
  });

  it('Retry-After is the decision retryAfter, and omitted when the request can never pass', () => {
    expect(retryAfterHeader({ ...decision, allowed: false, retryAfter: 13 })).to.deep.equal({ name: 'Retry-After', key: 'retry-after', value: '13', append: false });
    expect(retryAfterHeader({ ...decision, allowed: false, retryAfter: Infinity })).to.equal(undefined);
  });

  it('names policies like express-rate-limit', () => {
    expect(defaultPolicyName(5, 30)).to.equal('5-in-30sec');
    expect(defaultPolicyName(100, 900)).to.equal('100-in-15min');
    expect(defaultPolicyName(5, 3600)).to.equal('5-in-1hr');
    expect(defaultPolicyName(5, 7200)).to.equal('5-in-2hrs');
    expect(defaultPolicyName(5, 172_800)).to.equal('5-in-2days');
  });

  it("RateLimitHeaders (one limiter's, keeping draft-8 policy values per key) gives exactly rateLimitHeaders' lines", () => {
    const policies: PolicyStatus[] = [
      { limit: 10, windowSeconds: 60, remaining: 7, resetAfter: 42 } as PolicyStatus,
      { limit: 100, windowSeconds: 3600, remaining: 90, resetAfter: 3000 } as PolicyStatus,
    ];
    const decisions: Decision[] = [
      decision,
      { ...decision, remaining: 6, resetAfter: 41 },
      // The client's limit changed (updateLimit): the kept policy value must not be reused.
      { ...decision, limit: 20, remaining: 19 },
      { ...decision, windowSeconds: 30, resetAfter: 30 },
      { ...decision, allowed: false, remaining: 0, retryAfter: 5 },
      { ...decision, policies: [policies[0] as PolicyStatus] },
      { ...decision, policies },
    ];
    for (const mode of ['draft-8', 'draft-7', 'draft-6', 'legacy', 'none', false] as const) {
      for (const name of [undefined, 'api']) {
        const headers = new RateLimitHeaders(mode, name);
        for (const key of ['203.0.113.7', '198.51.100.1', '203.0.113.7']) {
          for (const d of [...decisions, decision]) {
            expect(headers.lines(d, key), `${String(mode)} ${String(name)} ${key}`).to.deep.equal(rateLimitHeaders(mode, d, key, name));
          }
        }
      }
    }
  });
});
