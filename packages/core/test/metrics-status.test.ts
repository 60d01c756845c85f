import { expect } from 'chai';
import { hashClientId, RateLimiter, STATUS_PAGE_HTML, statusReport, statusSnapshot } from '../src/index';
import { LimiterMetrics } from '../src/metrics/limiter-metrics';
import { parseMetricsOptions } from '../src/metrics/metrics-options';
import { TopClients } from '../src/metrics/top-clients';
import type { Decision } from '../src/types';

function decision(allowed: boolean, source: Decision['source'] = 'store'): Decision {
  return { allowed, limit: 1, windowSeconds: 1, remaining: 0, retryAfter: allowed ? 0 : 1, resetAfter: 1, timestamp: 0, source };
}

describe('status figures: per-second history and the most limited clients', () => {
  it('keeps allowed and denied per second, oldest first, with the second in progress last', () => {
    let now = 1_000_000;
    const m = new LimiterMetrics(parseMetricsOptions({ prometheus: false, historySeconds: 10 })!, () => now, false);
    for (let second = 0; second < 12; second++) {
      for (let i = 0; i < second; i++) m.decision('c', decision(true), -1);
      m.decision('c', decision(false, second % 2 === 0 ? 'store' : 'fallback'), -1);
      now += 1000;
      m.tick();
    }
    m.decision('c', decision(true, 'lease'), -1);
    m.decision('c', decision(false, 'cache'), -1);
    const s = m.snapshot();
    expect(s.series).to.have.length(11); // 10 closed seconds kept, plus the one in progress
    expect(s.series.map((p) => p.allowed)).to.deep.equal([2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 1]);
    expect(s.series.slice(0, 10).every((p) => p.denied === 1)).to.equal(true);
    expect(s.series[0]!.t).to.equal(1_002_000);
    expect(s.series.every((p) => p.factor === 1)).to.equal(true);
    expect(s.totals).to.deep.include({ allowed: 67, denied: 13 });
    expect(s.totals.bySource).to.deep.equal({
      store: { allowed: 66, denied: 6 },
      lease: { allowed: 1, denied: 0 },
      cache: { allowed: 0, denied: 1 },
      fallback: { allowed: 0, denied: 6 },
    });
    m.close();
  });

  it('finds the heavy hitters among many distinct clients in bounded memory (Misra-Gries)', () => {
    const top = new TopClients(100, 60_000, () => 0);
    for (let round = 0; round < 50; round++) {
      top.add('attacker-1');
      top.add('attacker-1');
      top.add('attacker-2');
      for (let i = 0; i < 30; i++) top.add(`scan-${round}-${i}`); // 1,500 clients seen once each
    }
    const rows = top.top(3);
    expect(rows.map((r) => r.clientId).slice(0, 2)).to.deep.equal(['attacker-1', 'attacker-2']);
    // Counts are lower bounds, short of the truth by at most their stated undercount.
    expect(rows[0]!.count).to.be.at.most(100);
    expect(rows[0]!.count + rows[0]!.undercount).to.be.at.least(100);
    expect(rows[1]!.count).to.be.at.most(50);
    expect(rows[1]!.count + rows[1]!.undercount).to.be.at.least(50);
    expect(rows[0]!.undercount).to.be.above(0);
  });

  it('forgets a client one to two periods after its last denial', () => {
    let now = 0;
    const top = new TopClients(10, 60_000, () => now);
    top.add('old');
    now = 61_000;
    top.rotate(); // the metrics timer rotates every second
    top.add('new');
    expect(top.top(5).map((r) => r.clientId)).to.deep.equal(['new', 'old']); // previous period still shown
    now = 122_000;
    expect(top.top(5).map((r) => r.clientId)).to.deep.equal(['new']);
    now = 400_000;
    expect(top.top(5)).to.deep.equal([]);
  });

  it('hides client ids by default: a keyed hash, one name per id, never the id (statusReport and statusSnapshot)', async () => {
    const limiter = new RateLimiter({ limit: 1, windowSeconds: 30, metrics: { prometheus: false } });
    for (let i = 0; i < 3; i++) await limiter.check('api:alice', { timestamp: 10 });
    const [hashed] = statusSnapshot(limiter).topClients;
    expect(hashed).to.deep.equal({ clientId: hashClientId('api:alice'), count: 2, undercount: 0 });
    expect(hashed!.clientId).to.match(/^#[0-9a-f]{12}$/);
    expect(JSON.stringify(statusReport([limiter]))).not.to.include('alice');
    expect(statusReport(limiter, { clientIds: 'full' }).limiters[0]!.topClients[0]!.clientId).to.equal('api:alice');
    expect(() => statusReport(limiter, { clientIds: 'plain' as 'full' })).to.throw(TypeError, /options.clientIds must be 'hashed' or 'full'; got "plain"/);
    await limiter.close();
  });

  it('statusSnapshot(limiter) reports totals, top clients, breaker, factor and the default limit', async () => {
    const limiter = new RateLimiter({ limit: 2, windowSeconds: 30, metrics: { prometheus: false } });
    for (let i = 0; i < 5; i++) await limiter.check('noisy', { timestamp: 10 });
    await limiter.check('quiet', { timestamp: 10 });
    const s = statusSnapshot(limiter, { clientIds: 'full' });
    expect(s.totals).to.deep.include({ allowed: 3, denied: 3 });
    expect(s.topClients).to.deep.equal([{ clientId: 'noisy', count: 3, undercount: 0 }]);
    expect(s).to.deep.include({ breaker: 'closed', adaptiveFactor: 1, limit: { limit: 2, windowSeconds: 30 }, clientsTracked: 2 });
    expect(s.series.at(-1)).to.deep.include({ allowed: 3, denied: 3 });
    expect(JSON.parse(JSON.stringify(s))).to.deep.equal(s); // plain JSON
    await limiter.close();
    const off = new RateLimiter({ limit: 1, windowSeconds: 1 });
    expect(() => statusSnapshot(off)).to.throw(TypeError, /needs a limiter created with the metrics option on/);
    await off.close();
  });

  it('the page is one self-contained document that polls status.json', () => {
    expect(STATUS_PAGE_HTML).to.match(/^<!doctype html>/);
    expect(STATUS_PAGE_HTML).to.include("new URL('status.json', location.href)");
    expect(STATUS_PAGE_HTML).not.to.match(/<script[^>]+src=|<link[^>]+href=|@import/); // nothing fetched but the JSON
  });
});
